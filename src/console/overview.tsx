/**
 * The overview: one row per unit the token may see (shards, records, bytes, pending,
 * failed, rate, the last 15 minutes, state), searchable and sortable. Units are read a few at
 * a time and the table shows a page of them, so hundreds of units stay usable.
 */
import { useState } from "hono/jsx/dom";
import { path } from "./api";
import { Sparkline } from "./chart";
import { bytes, count } from "./format";
import { href, usePolled } from "./hooks";
import { mayRead, type Session, useSession } from "./session";
import type { HistoryPoint, Status, UnitInfo } from "./types";
import { StateBadges, shardCount, states, unitRate } from "./words";

const POLL_MS = 5_000;
const AT_ONCE = 8;
const PAGE = 50;

export interface UnitRow {
  name: string;
  status?: Status;
  info?: UnitInfo;
  history?: HistoryPoint[];
  error?: string;
}

async function unitNames(session: Session): Promise<string[]> {
  if (!session.whoami.admin) return Object.keys(session.whoami.grants).filter((unit) => mayRead(session.whoami, unit));
  const { storageUnits } = await session.api.call<{ storageUnits: Array<{ name: string }> }>("GET", "/admin/listStorageUnits");
  return storageUnits.map((unit) => unit.name);
}

async function readUnit(session: Session, name: string): Promise<UnitRow> {
  const { api, whoami } = session;
  try {
    const [status, info, history] = await Promise.all([
      api.call<Status>("GET", path("reprocess", "status", name)),
      whoami.admin
        ? api.call<{ storageUnit: UnitInfo }>("GET", path("admin", "getStorageUnit", name)).then((answer) => answer.storageUnit)
        : undefined,
      api.call<{ points: HistoryPoint[] }>("GET", `${path("reprocess", "history", name)}?minutes=15`).then((answer) => answer.points),
    ]);
    return { name, status, info, history };
  } catch (error) {
    return { name, error: String(error instanceof Error ? error.message : error) };
  }
}

async function readAll(session: Session): Promise<UnitRow[]> {
  const names = await unitNames(session);
  const rows: UnitRow[] = new Array(names.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(AT_ONCE, names.length) }, async () => {
      while (next < names.length) {
        const index = next++;
        rows[index] = await readUnit(session, names[index]!);
      }
    }),
  );
  return rows;
}

const SORTS = {
  name: { label: "name", value: (row: UnitRow) => row.name },
  pending: { label: "most pending", value: (row: UnitRow) => -(row.status?.pending ?? 0) },
  failed: { label: "most failed", value: (row: UnitRow) => -(row.status?.failed ?? 0) },
  rate: { label: "fastest", value: (row: UnitRow) => -(row.status?.itemsPerSecond ?? 0) },
  records: { label: "most records", value: (row: UnitRow) => -(row.info?.records ?? 0) },
} as const;
type SortKey = keyof typeof SORTS;

const totalBytes = (info: UnitInfo | undefined) => (info ? bytes(info.shardStats.reduce((sum, shard) => sum + shard.bytes, 0)) : "—");

export function Overview() {
  const session = useSession();
  const { data, error } = usePolled(() => readAll(session), POLL_MS, []);
  const [search, setSearch] = useState("");
  const [sort, setSort] = useState<SortKey>("name");
  const [shown, setShown] = useState(PAGE);
  if (!data) return <p class="muted">{error ? `Could not list the units: ${error}` : "Reading the units…"}</p>;
  if (data.length === 0) return <p>No storage units for this token.</p>;
  const by = SORTS[sort].value;
  const rows = data
    .filter((row) => row.name.toLowerCase().includes(search.trim().toLowerCase()))
    .sort((a, b) => {
      const [x, y] = [by(a), by(b)];
      return x < y ? -1 : x > y ? 1 : a.name.localeCompare(b.name);
    });
  return (
    <section class="overview" aria-labelledby="overview-title">
      <div class="toolbar">
        <h2 id="overview-title">
          Storage units <span class="muted">({count(data.length)})</span>
        </h2>
        <input
          type="search"
          placeholder="Search units"
          aria-label="Search units"
          value={search}
          onInput={(event: Event) => setSearch((event.target as HTMLInputElement).value)}
        />
        <label>
          Sort by{" "}
          <select value={sort} onChange={(event: Event) => setSort((event.target as HTMLSelectElement).value as SortKey)}>
            {Object.entries(SORTS).map(([key, { label }]) => (
              <option value={key}>{label}</option>
            ))}
          </select>
        </label>
      </div>
      {error ? <p class="error-text">The last refresh failed: {error}</p> : null}
      <table class="stack units">
        <thead>
          <tr>
            <th>Unit</th>
            <th>State</th>
            <th>Shards</th>
            <th>Records</th>
            <th>Bytes</th>
            <th>Pending</th>
            <th>Failed</th>
            <th>Rate</th>
            <th>Last 15 min</th>
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, shown).map((row) => (
            <tr data-unit={row.name}>
              <td data-label="Unit">
                <a href={href("unit", row.name)}>{row.name}</a>
              </td>
              {row.status ? (
                <>
                  <td data-label="State">
                    <StateBadges list={states(row.status, row.info?.settings, row.history)} />
                  </td>
                  <td data-label="Shards">{row.info ? shardCount(row.info) : "—"}</td>
                  <td data-label="Records">{row.info ? count(row.info.records) : "—"}</td>
                  <td data-label="Bytes">{totalBytes(row.info)}</td>
                  <td data-label="Pending">{count(row.status.pending)}</td>
                  <td data-label="Failed">{count(row.status.failed)}</td>
                  <td data-label="Rate">{unitRate(row.status, row.history)}</td>
                  <td data-label="Last 15 min">
                    <Sparkline points={row.history ?? []} label={`items done per minute in the last 15 minutes of ${row.name}`} />
                  </td>
                </>
              ) : (
                <td data-label="Error" colSpan={8} class="error-text">
                  {row.error}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length > shown ? (
        <button type="button" onClick={() => setShown(shown + PAGE)}>
          Show {Math.min(PAGE, rows.length - shown)} more of {count(rows.length - shown)}
        </button>
      ) : null}
      {session.whoami.admin ? null : <p class="muted">Shards, records and bytes are shown to the admin token only (getStorageUnit).</p>}
    </section>
  );
}
