/**
 * The rows a split moves with a key, read, written and deleted as they are. {@link PER_KEY_TABLES}
 * is the one list of the tables whose rows belong to one key: a new per-key table is one
 * line there, and every step of the move (read on the old shard, upsert on the new one,
 * delete on the old one) follows it.
 *
 * Invariant: every per-key row of a (scope, key) lives beside a `records` row of that
 * (scope, key) (a tombstone at least: records are never deleted, only emptied), except the
 * reverse rows of a key no record has yet (a join remembers a key before it exists): the
 * keys a shard holds are those of `records` and of `record_referrers` ({@link nextKeys}).
 * A batch is a range of keys in key order ({@link KeyRange}): its rows are found with one
 * statement per table that walks the table's index from the range's start, by the scopes
 * of those two tables' rows in the range then key where a table is keyed by scope first,
 * never by a full scan of such a table. Owns no table; fills travel with a batch too (see split.ts).
 */
import { compareKeys } from "./record-scan";
import type { Sql, SqlValue } from "./sql";
import { adoptRuns, countQueueRows, runsHeld, runsOf, type RunShare } from "./split-runs";

interface PerKeyTable {
  table: string;
  /** the column that holds the key the row belongs to */
  key: string;
  /** the column of its scope (the table's rows are then found by (scope, key)) */
  scope?: string;
  /** columns the receiving shard numbers itself (a rowid) */
  generated?: string[];
}

/** Every table whose rows go with a key when it moves to another shard. */
export const PER_KEY_TABLES: readonly PerKeyTable[] = [
  { table: "records", key: "key" },
  { table: "queue", key: "key", scope: "scope" },
  { table: "record_refs", key: "key", scope: "scope" },
  { table: "referrer_outbox", key: "ref_key", scope: "ref_scope", generated: ["id"] },
  { table: "record_referrers", key: "ref_key", scope: "ref_scope" },
  { table: "reference_outbox", key: "key", scope: "scope", generated: ["id"] },
];

export type Row = Record<string, SqlValue>;

/** The keys of one batch: those of a shard after `after` (from the first, when null) up to `last`, in key order. */
export interface KeyRange {
  after: string | null;
  last: string;
}

/** The rows of a batch's keys that go to one new shard, table by table. */
export interface KeyRows {
  /** the batch's range: the new shard's rows of keys in it become these (null: the old shard's last word, no rows) */
  range: KeyRange | null;
  tables: Record<string, Row[]>;
  /** the runs its queue rows and the shard's fills belong to (split-runs.ts) */
  runs: RunShare[];
}

/**
 * The rows of the keys in `range`, in every per-key table, for each new shard `targetOf`
 * gives a key (undefined: the key stays). One statement per table, whatever the number of
 * keys: each walks its index from the range's start.
 */
export function readRange(sql: Sql, range: KeyRange, targetOf: (key: string) => number | undefined): Map<number, KeyRows> {
  const scopes = scopesIn(sql, range);
  const batches = new Map<number, KeyRows>();
  const seqs: Array<number | null> = [];
  for (const table of PER_KEY_TABLES) {
    for (const row of sql.all<Row>(`SELECT * FROM ${table.table} WHERE ${inRange(table, range)}`, ...rangeArgs(table, range, scopes))) {
      const target = targetOf(String(row[table.key]));
      if (target === undefined) continue;
      const batch = batches.get(target) ?? { range, tables: {}, runs: [] };
      batches.set(target, batch);
      const rows = batch.tables[table.table] ?? [];
      batch.tables[table.table] = rows;
      rows.push(row);
      if (table.table === "queue") seqs.push(row.run as number | null);
    }
  }
  if (batches.size === 0) return batches;
  const fillRuns = sql.all<{ run: number | null }>("SELECT run FROM fills").map((row) => row.run);
  const runs = runsOf(sql, [...seqs, ...fillRuns]);
  for (const batch of batches.values()) {
    const wanted = new Set([...(batch.tables.queue ?? []).map((row) => row.run), ...fillRuns]);
    batch.runs = runs.filter((run) => wanted.has(run.seq));
  }
  return batches;
}

/** The last word of an old shard that has moved all it had to: no range, no rows, and every run it holds (split-runs.ts). */
export function closingRows(sql: Sql): KeyRows {
  return { range: null, tables: {}, runs: runsHeld(sql) };
}

/** The keys whose rows `batch` carries. */
export function keysOf(batch: KeyRows): string[] {
  return PER_KEY_TABLES.flatMap((table) => (batch.tables[table.table] ?? []).map((row) => String(row[table.key])));
}

/** Deletes every row of the keys in `range` (of those in `only`, when given), in every per-key table. */
export function deleteRange(sql: Sql, range: KeyRange, only?: string[]): void {
  const scopes = scopesIn(sql, range);
  // no record and no reverse row in the range: no row of its keys is here
  if (scopes === "[]") return;
  for (const table of PER_KEY_TABLES) {
    const keys = only ? ` AND ${table.key} IN (SELECT value FROM json_each(?))` : "";
    const deleted = sql.all<Row>(
      `DELETE FROM ${table.table} WHERE ${inRange(table, range)}${keys}${table.table === "queue" ? " RETURNING state, run" : ""}`,
      ...rangeArgs(table, range, scopes),
      ...(only ? [JSON.stringify(only)] : []),
    );
    if (table.table === "queue") countQueueRows(sql, deleted, -1);
  }
}

/**
 * Makes the rows here of the keys in `batch.range` exactly those sent: what was there of
 * them goes (only a batch sent before can have left any: a new shard holds no key its old
 * shard's cursor has not passed), the sent rows are stored as they are. Sending the same
 * batch twice stores it once.
 */
export function replaceRange(sql: Sql, batch: KeyRows): Map<number, number> {
  if (batch.range) deleteRange(sql, batch.range);
  const runs = adoptRuns(sql, batch.runs);
  const queue = (batch.tables.queue ?? []).map((row): Row => ({ ...row, run: row.run === null ? null : (runs.get(Number(row.run)) ?? null) }));
  countQueueRows(sql, queue, 1);
  for (const table of PER_KEY_TABLES) {
    for (const row of table.table === "queue" ? queue : (batch.tables[table.table] ?? [])) {
      const columns = Object.keys(row).filter((column) => !table.generated?.includes(column));
      sql.exec(
        `INSERT INTO ${table.table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
        ...columns.map((column) => row[column]),
      );
    }
  }
  return runs;
}

/** The scopes of the keys in `range`: those of their records and of their reverse rows, as one JSON parameter. */
function scopesIn(sql: Sql, range: KeyRange): string {
  const rows = sql.all<{ scope: string }>(
    `SELECT scope FROM records WHERE ${keyRange("key", range)} UNION SELECT ref_scope FROM record_referrers WHERE ${keyRange("ref_key", range)}`,
    ...keyArgs(range),
    ...keyArgs(range),
  );
  return JSON.stringify(rows.map((row) => row.scope));
}

/** The number of keys this shard holds: with a record, or with reverse rows only. */
export function countKeys(sql: Sql): number {
  return sql.first<{ n: number }>("SELECT count(*) AS n FROM (SELECT key FROM records UNION SELECT ref_key FROM record_referrers)")?.n ?? 0;
}

/** The first `limit` keys after `after` (all, when null) in byte order, with the bytes of their contents. */
export function nextKeys(sql: Sql, after: string | null, limit: number): Array<{ key: string; bytes: number }> {
  // each side walks its own index from the cursor; the first `limit` of both are among their first `limit`
  const past = after === null ? ">=" : ">";
  const records = sql.all<{ key: string; bytes: number }>(
    `SELECT key, sum(coalesce(length(content), 0)) AS bytes FROM records WHERE key ${past} ? GROUP BY key ORDER BY key LIMIT ?`,
    after ?? "",
    limit,
  );
  const reverse = sql.all<{ key: string }>(
    `SELECT DISTINCT ref_key AS key FROM record_referrers WHERE ref_key ${past} ? ORDER BY ref_key LIMIT ?`,
    after ?? "",
    limit,
  );
  if (reverse.length === 0) return records;
  const merged: Array<{ key: string; bytes: number }> = [];
  for (let r = 0, v = 0; merged.length < limit && (r < records.length || v < reverse.length); ) {
    const order = r === records.length ? 1 : v === reverse.length ? -1 : compareKeys(records[r]!.key, reverse[v]!.key);
    if (order <= 0) merged.push(records[r++]!);
    else merged.push({ key: reverse[v]!.key, bytes: 0 });
    if (order >= 0) v++;
  }
  return merged;
}

/** The rows of `table` whose key is in `range`, found by scope then key where the table is keyed by scope first; its bindings: {@link rangeArgs}. */
function inRange(table: PerKeyTable, range: KeyRange): string {
  const keys = keyRange(table.key, range);
  return table.scope ? `${table.scope} IN (SELECT value FROM json_each(?)) AND ${keys}` : keys;
}

function rangeArgs(table: PerKeyTable, range: KeyRange, scopes: string): string[] {
  return table.scope ? [scopes, ...keyArgs(range)] : keyArgs(range);
}

/** `column` within `range`; its bindings: {@link keyArgs}. */
function keyRange(column: string, range: KeyRange): string {
  return `${column} ${range.after === null ? ">=" : ">"} ? AND ${column} <= ?`;
}

/** The first batch (no `after`) starts at the least key. */
function keyArgs(range: KeyRange): string[] {
  return [range.after ?? "", range.last];
}
