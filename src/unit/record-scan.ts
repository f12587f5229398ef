/**
 * Reads a scope's live records in key order for the fills of `reprocess/all` (fills.ts):
 * the filter of a fill (scope, key prefix, updated since) as one SQL condition, and the
 * store's key order. Reads table `records` only; owns no table.
 *
 * Invariant: every read seeks the (scope, key) index and is bounded by a `LIMIT`, so a fill
 * over a million records never holds more than one chunk.
 */
import { q, type Query, type Sql } from "./sql";

export interface RecordFilter {
  scope: string;
  prefix?: string;
  /** ms since the epoch: scopes updated at or after it */
  since?: number;
}

export interface ScannedRecord {
  key: string;
  content: string | null;
  version: number;
}

export class RecordScan {
  constructor(private readonly sql: Sql) {}

  /** How many live records match a filter: what a `reprocess/all` will queue. */
  count(filter: RecordFilter): number {
    return this.sql.first<{ n: number }>(q`SELECT count(*) AS n FROM records WHERE ${matching(filter)}`)?.n ?? 0;
  }

  /** The next `limit` matching records after `cursor`, in key order. */
  read(filter: RecordFilter, cursor: string | null, limit: number): ScannedRecord[] {
    return this.sql.all<{ key: string; content: string | null; version: number }>(
      q`SELECT key, content, version FROM records WHERE ${after(filter, cursor)} ORDER BY key LIMIT ${limit}`,
    );
  }

  /** A query of the (scope, key) of the next `limit` matching records after `cursor`: what `Queue.enqueueSelected` takes. */
  keys(filter: RecordFilter, cursor: string | null, limit: number): Query {
    return q`SELECT scope, key FROM records WHERE ${after(filter, cursor)} ORDER BY key LIMIT ${limit}`;
  }
}

function after(filter: RecordFilter, cursor: string | null): Query {
  return q`${matching(filter)} AND key > ${cursor ?? ""}`;
}

function matching(filter: RecordFilter): Query {
  let where = q`scope = ${filter.scope} AND content IS NOT NULL`;
  // the range condition lets SQLite seek the (scope, key) index; substr() ends the range
  if (filter.prefix) where = q`${where} AND key >= ${filter.prefix} AND substr(key, 1, length(${filter.prefix})) = ${filter.prefix}`;
  if (filter.since !== undefined) where = q`${where} AND updated_at >= ${filter.since}`;
  return where;
}

/**
 * Orders keys as the store does: by code point, the order of their UTF-8 bytes. JavaScript's
 * `<` compares UTF-16 units, which puts U+E000..U+FFFF after the surrogate pairs of U+10000 and above.
 */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    // equal up to i, so i starts a code point in both, or is the second half of the same leading surrogate
    if (a.charCodeAt(i) !== b.charCodeAt(i)) return a.codePointAt(i)! - b.codePointAt(i)!;
  }
  return a.length - b.length;
}
