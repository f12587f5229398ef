/**
 * A unit's page: what it is doing (state, counts, rate, controls), its history, shards and
 * split, runs, a record by key, failed items and, for the admin, its configuration. Status
 * and configuration are read here, every POLL_MS, and given to the sections.
 */
import { path } from "./api";
import { Config } from "./config";
import { FailedItems } from "./failed";
import { count, duration, relative, time } from "./format";
import { href, usePolled } from "./hooks";
import { HistoryView } from "./history";
import { RecordSearch } from "./record";
import { Runs } from "./runs";
import { act, mayWrite, type Session, useSession } from "./session";
import { Shards } from "./shards";
import type { HistoryPoint, Status, UnitInfo } from "./types";
import { StateBadges, shardCount, states, throttled, unitRate } from "./words";

const POLL_MS = 2_000;

export interface UnitView {
  name: string;
  status: Status;
  info: UnitInfo | undefined;
  /** the last minutes of its history */
  recent: HistoryPoint[];
  write: boolean;
}

async function read(session: Session, name: string): Promise<{ status: Status; info?: UnitInfo; recent: HistoryPoint[] }> {
  const [status, info, history] = await Promise.all([
    session.api.call<Status>("GET", path("reprocess", "status", name)),
    session.whoami.admin ? session.api.call<{ storageUnit: UnitInfo }>("GET", path("admin", "getStorageUnit", name)) : undefined,
    // the last minutes say whether every item fails (words.ts)
    session.api.call<{ points: HistoryPoint[] }>("GET", `${path("reprocess", "history", name)}?minutes=5`),
  ]);
  return { status, info: info?.storageUnit, recent: history.points };
}

/** The job's next wake-up: "now" while it works or is due; never a time in the past. */
function nextWake(status: Status): string {
  if (status.paused) return "held (paused)";
  if (status.nextRunAt === null) return "none: nothing to do";
  if (Date.parse(status.nextRunAt) <= Date.now() + 1000) return "now";
  return `${relative(status.nextRunAt)} (${time(status.nextRunAt)})`;
}

export function UnitPage(props: { name: string; record?: { key: string; scope?: string } }) {
  const session = useSession();
  const { data, error } = usePolled(() => read(session, props.name), POLL_MS, [props.name]);
  const back = (
    <a class="back" href={href()}>
      ← All units
    </a>
  );
  if (!data)
    return (
      <section>
        {back}
        <p class={error ? "error-text" : "muted"}>{error ? `Could not read ${props.name}: ${error}` : `Reading ${props.name}…`}</p>
      </section>
    );
  const { status, info, recent } = data;
  const unit: UnitView = { name: props.name, status, info, recent, write: mayWrite(session.whoami, props.name) };
  return (
    <article class="unit" data-unit={props.name}>
      {back}
      <header class="unit-head">
        <h2>{props.name}</h2>
        <Summary unit={unit} />
      </header>
      {error ? <p class="error-text">The last refresh failed: {error}</p> : null}
      <HistoryView unit={props.name} />
      {info ? <Shards info={info} /> : null}
      <Runs unit={unit} />
      <RecordSearch unit={unit} opened={props.record} />
      <FailedItems unit={unit} />
      {info ? <Config unit={unit} /> : null}
    </article>
  );
}

function Summary(props: { unit: UnitView }) {
  const { status, info, name, write, recent } = props.unit;
  const session = useSession();
  const limit = info?.settings.maxItemsPerSecond;
  const stats: Array<[string, string, string?]> = [
    ["Pending", count(status.pending)],
    ["Running", count(status.assigned), "items claimed by a batch now"],
    ["Failed", count(status.failed), "items that used up maxAttempts"],
    ["Processed since created", count(status.processed), "the unit's lifetime count, every run and write"],
    [
      "Rate",
      unitRate(status, recent) + (throttled(status, info?.settings) ? ` (limit ${count(limit ?? 0)}/s)` : ""),
      "items done per second over the last minute",
    ],
    ["ETA", duration(status.etaSeconds), "until the queue is empty at this rate"],
    ["Job's next wake", nextWake(status), "when the job runs next; schedules are under Configuration"],
  ];
  if (info) stats.unshift(["Records", count(info.records)], ["Shards", shardCount(info)]);
  const queueControls = write && status.enabled;
  return (
    <div class="summary">
      <StateBadges list={states(status, info?.settings, recent)} />
      <dl class="stats">
        {stats.map(([label, value, title]) => (
          <div title={title}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      {status.lastError ? (
        <p class="last-error">
          Last error: <code>{status.lastError}</code>
        </p>
      ) : null}
      {queueControls ? (
        <div class="controls">
          <button
            type="button"
            aria-label={`${status.paused ? "Resume" : "Pause"} ${name}`}
            onClick={() =>
              act(session, status.paused ? "Resume" : "Pause", null, async () => {
                await session.api.call("PUT", path("reprocess", status.paused ? "resume" : "pause", name));
                return `${name} ${status.paused ? "resumed" : "paused"}`;
              })
            }
          >
            {status.paused ? "Resume" : "Pause"}
          </button>
          <button
            type="button"
            aria-label={`Reset ${name}`}
            onClick={() =>
              act(session, "Reset", `Put every item running in ${name} back in the queue?`, async () => {
                const { unassigned } = await session.api.call<{ unassigned: number }>("POST", path("reprocess", "reset", name));
                return `${count(unassigned)} running items of ${name} put back in the queue`;
              })
            }
          >
            Reset
          </button>
          <button
            type="button"
            aria-label={`Purge the pending items of ${name}`}
            onClick={() =>
              act(session, "Purge", `Drop the ${count(status.pending)} pending items of ${name}? Running ones finish.`, async () => {
                const { purged } = await session.api.call<{ purged: number }>("POST", path("reprocess", "purge", name));
                return `${count(purged)} pending items of ${name} dropped`;
              })
            }
          >
            Purge pending
          </button>
        </div>
      ) : null}
    </div>
  );
}
