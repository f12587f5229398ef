/**
 * The rows a split moves with a key, read, written and deleted as they are. {@link PER_KEY_TABLES}
 * is the one list of the tables whose rows belong to one key: a new per-key table is one
 * line there, and every step of the move (read on the old shard, upsert on the new one,
 * delete on the old one) follows it.
 *
 * Invariant: every per-key row of a (scope, key) lives beside a `records` row of that
 * (scope, key) (a tombstone at least: records are never deleted, only emptied), except the
 * reverse rows of a key no record has yet (a join remembers a key before it exists): the
 * keys a shard holds are those of `records` and of `record_referrers` ({@link nextKeys}),
 * and the rows of a set of keys are found through those two tables' keys, never by a full
 * scan of a table keyed by scope first. Owns no table; fills travel with a batch too (see split.ts).
 */
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

/** The rows of some keys, table by table: what one batch of a split carries to one new shard. */
export interface KeyRows {
  keys: string[];
  tables: Record<string, Row[]>;
  /** the runs its queue rows and the shard's fills belong to (split-runs.ts) */
  runs: RunShare[];
}

/** The rows of `keys` in every per-key table. */
export function readRows(sql: Sql, keys: string[]): KeyRows {
  const pairs = scopesOf(sql, keys);
  const tables: Record<string, Row[]> = {};
  for (const table of PER_KEY_TABLES)
    tables[table.table] = sql.all<Row>(`SELECT * FROM ${table.table} WHERE ${where(table)}`, ...args(table, keys, pairs));
  const fillRuns = sql.all<{ run: number | null }>("SELECT run FROM fills").map((row) => row.run);
  const runs = runsOf(sql, [...(tables.queue ?? []).map((row) => row.run as number | null), ...fillRuns]);
  return { keys, tables, runs };
}

/** The last word of an old shard that has moved all it had to: no rows, and every run it holds (split-runs.ts). */
export function closingRows(sql: Sql): KeyRows {
  return { keys: [], tables: {}, runs: runsHeld(sql) };
}

/** Deletes every row of `keys`, in every per-key table. */
export function deleteRows(sql: Sql, keys: string[], also: Array<[string, string]> = []): void {
  const pairs = JSON.stringify([...JSON.parse(scopesOf(sql, keys)), ...also]);
  for (const table of PER_KEY_TABLES) {
    const deleted = sql.all<Row>(`DELETE FROM ${table.table} WHERE ${where(table)} RETURNING *`, ...args(table, keys, pairs));
    if (table.table === "queue") countQueueRows(sql, deleted, -1);
  }
}

/**
 * Makes the rows of `batch.keys` here exactly those sent: what was there of them goes,
 * the sent rows are stored as they are. Sending the same batch twice stores it once.
 */
export function replaceRows(sql: Sql, batch: KeyRows): Map<number, number> {
  const sent = (batch.tables.records ?? []).map((row): [string, string] => [String(row.scope), String(row.key)]);
  deleteRows(sql, batch.keys, sent);
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

/** The (scope, key) pairs of `keys` in `records` and in `record_referrers`, as one JSON parameter. */
function scopesOf(sql: Sql, keys: string[]): string {
  const rows = sql.all<{ scope: string; key: string }>(
    `SELECT scope, key FROM records WHERE key IN (SELECT value FROM json_each(?))
     UNION SELECT ref_scope, ref_key FROM record_referrers WHERE ref_key IN (SELECT value FROM json_each(?))`,
    JSON.stringify(keys),
    JSON.stringify(keys),
  );
  return JSON.stringify(rows.map((row) => [row.scope, row.key]));
}

/** The number of keys this shard holds: with a record, or with reverse rows only. */
export function countKeys(sql: Sql): number {
  return sql.first<{ n: number }>("SELECT count(*) AS n FROM (SELECT key FROM records UNION SELECT ref_key FROM record_referrers)")?.n ?? 0;
}

/** The first `limit` keys after `after` (all, when null) in byte order, with the bytes of their contents. */
export function nextKeys(sql: Sql, after: string | null, limit: number): Array<{ key: string; bytes: number }> {
  // each side walks its own index from the cursor; the first `limit` of the union are among their first `limit`
  const past = after === null ? ">= ''" : "> ?";
  const from = after === null ? [] : [after];
  return sql.all<{ key: string; bytes: number }>(
    `SELECT k.key, coalesce((SELECT sum(coalesce(length(content), 0)) FROM records r WHERE r.key = k.key), 0) AS bytes FROM (
       SELECT key FROM (SELECT DISTINCT key FROM records WHERE key ${past} ORDER BY key LIMIT ?)
       UNION SELECT key FROM (SELECT DISTINCT ref_key AS key FROM record_referrers WHERE ref_key ${past} ORDER BY ref_key LIMIT ?)
     ) k ORDER BY k.key LIMIT ?`,
    ...from,
    limit,
    ...from,
    limit,
    limit,
  );
}

function where(table: PerKeyTable): string {
  return table.scope
    ? `(${table.scope}, ${table.key}) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))`
    : `${table.key} IN (SELECT value FROM json_each(?))`;
}

function args(table: PerKeyTable, keys: string[], pairs: string): string[] {
  return [table.scope ? pairs : JSON.stringify(keys)];
}
