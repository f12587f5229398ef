/**
 * The reprocess queue (table `queue`), one row per (scope, key), following the state
 * machine of DESIGN.md: pending (0) → assigned (1, under a lease and a run token) →
 * removed on success, back to pending with backoff on failure, failed (2) after
 * `maxAttempts`. For an assigned item `next_run_at` holds its lease expiry, so one index
 * finds both due items and expired leases.
 *
 * Invariants: an item is in exactly one state; a result is applied only through the run
 * token it was claimed with, so a stale run (after reset or lease expiry) changes nothing.
 * Every statement is set-based: key lists travel as one JSON parameter (`json_each`).
 *
 * A `reprocess/all` run past its first chunk skips the pending stage: its next keys are
 * read from the records and inserted already assigned to the worker that asked
 * ({@link Queue.claimFromRecords}), which saves a write per item on a big fill.
 */
import type { ReprocessingSettings } from "../schemas";
import type { Sql } from "./sql";

export const PENDING = 0;
export const ASSIGNED = 1;
export const FAILED = 2;

export interface ClaimedItem {
  key: string;
  hops: number;
  /** the scope's stored content (null: deleted), when the claim read it already */
  content?: string | null;
  version?: number | null;
}

export interface Claim {
  scope: string;
  token: string;
  leaseUntil: number;
  items: ClaimedItem[];
}

export interface FailedItem {
  scope: string;
  key: string;
  attempts: number;
  lastError: string | null;
  failedAt: string | null;
}

/** What queuing does to an item already there: pending stays (dedup), assigned runs once more, failed starts over. */
const ON_CONFLICT = `ON CONFLICT (scope, key) DO UPDATE SET
  rerun = CASE WHEN state = ${ASSIGNED} THEN 1 ELSE rerun END,
  attempts = CASE WHEN state = ${FAILED} THEN 0 ELSE attempts END,
  next_run_at = CASE WHEN state = ${FAILED} THEN excluded.next_run_at ELSE next_run_at END,
  hops = CASE WHEN state = ${ASSIGNED} THEN hops ELSE excluded.hops END,
  failed_at = CASE WHEN state = ${FAILED} THEN NULL ELSE failed_at END,
  last_error = CASE WHEN state = ${FAILED} THEN NULL ELSE last_error END,
  state = CASE WHEN state = ${FAILED} THEN ${PENDING} ELSE state END`;

const FAILURES_PER_STATEMENT = 250;

/** The error an item carries when its run outlived its lease. */
export const LEASE_EXPIRED = "lease expired: the run did not finish within leaseMs";

/** The SQL delay of the next retry: `backoffMs` doubled per attempt, capped. */
const BACKOFF = "min(?, ? * (1 << min(attempts - 1, 40)))";

export class Queue {
  constructor(private readonly sql: Sql) {}

  /** Queues these keys of one scope; returns how many. */
  enqueue(scope: string, keys: string[], hops = 0, now = Date.now()): number {
    if (keys.length === 0) return 0;
    this.sql.exec(
      `INSERT INTO queue (scope, key, state, attempts, next_run_at, hops)
       SELECT ?, value, ${PENDING}, 0, ?, ? FROM json_each(?) WHERE true ${ON_CONFLICT}`,
      scope,
      now,
      hops,
      JSON.stringify(keys),
    );
    return keys.length;
  }

  /** Queues these (scope, key) items, of any scopes (referrers: see references.ts); returns how many. */
  enqueueItems(items: Array<{ scope: string; key: string }>, hops: number, now = Date.now()): number {
    if (items.length === 0) return 0;
    this.sql.exec(
      `INSERT INTO queue (scope, key, state, attempts, next_run_at, hops)
       SELECT value ->> 0, value ->> 1, ${PENDING}, 0, ?, ? FROM json_each(?) WHERE true ${ON_CONFLICT}`,
      now,
      hops,
      JSON.stringify(items.map((item) => [item.scope, item.key])),
    );
    return items.length;
  }

  /**
   * Queues the next chunk of a scope's live records in key order after `cursor`,
   * optionally only keys starting with `prefix` and scopes updated at or after `since`.
   * Returns how many were queued and the last key (the cursor of the next chunk).
   */
  enqueueFromRecords(filter: RecordFilter, cursor: string | null, limit: number, hops = 0, now = Date.now()): { count: number; last?: string } {
    const { where, args } = recordWhere(filter);
    const rows = this.sql.all<{ key: string }>(
      `INSERT INTO queue (scope, key, state, attempts, next_run_at, hops)
       SELECT scope, key, ${PENDING}, 0, ?, ? FROM records
       WHERE ${where} AND key > ? ORDER BY key LIMIT ?
       ${ON_CONFLICT} RETURNING key`,
      now,
      hops,
      ...args,
      cursor ?? "",
      limit,
    );
    let last: string | undefined;
    for (const row of rows) if (last === undefined || compareKeys(row.key, last) > 0) last = row.key;
    return { count: rows.length, last };
  }

  /** How many live records match a filter: what a `reprocess/all` will queue. */
  countRecords(filter: RecordFilter): number {
    const { where, args } = recordWhere(filter);
    return this.sql.first<{ n: number }>(`SELECT count(*) AS n FROM records WHERE ${where}`, ...args)?.n ?? 0;
  }

  /**
   * Items whose lease ran out go back to pending (or to failed when they used their
   * attempts: a run that keeps dying must not loop forever). An item queued again while
   * assigned starts over with fresh attempts, as after a completed run: the change it
   * carries has not been seen yet.
   */
  expireLeases(maxAttempts: number, now = Date.now()): number {
    return this.sql.run(
      `UPDATE queue SET
         state = CASE WHEN rerun = 0 AND attempts >= ? THEN ${FAILED} ELSE ${PENDING} END,
         failed_at = CASE WHEN rerun = 0 AND attempts >= ? THEN ? ELSE NULL END,
         attempts = CASE WHEN rerun = 0 THEN attempts ELSE 0 END,
         last_error = '${LEASE_EXPIRED}',
         lease_token = NULL, rerun = 0
       WHERE state = ${ASSIGNED} AND next_run_at <= ?`,
      maxAttempts,
      maxAttempts,
      now,
      now,
    );
  }

  /**
   * Claims the next live records of a `reprocess/all` run (key order after `cursor`), up to
   * `limit`, inserting them assigned under a new lease. Keys already in the queue keep
   * their course (see ON_CONFLICT) and are left out of this claim. Returns the claim, the
   * last key read (the next cursor), how many keys were read and whether the records are exhausted.
   */
  claimFromRecords(filter: RecordFilter, cursor: string | null, limit: number, leaseMs: number, hops: number, now = Date.now()): { claim: Claim; last?: string; read: number; exhausted: boolean } {
    const { where, args } = recordWhere(filter);
    const rows = this.sql.all<{ key: string; content: string | null; version: number }>(
      `SELECT key, content, version FROM records WHERE ${where} AND key > ? ORDER BY key LIMIT ?`,
      ...args,
      cursor ?? "",
      limit,
    );
    const claim: Claim = { scope: filter.scope, token: crypto.randomUUID(), leaseUntil: now + leaseMs, items: [] };
    const last = rows[rows.length - 1]?.key;
    if (last === undefined) return { claim, read: 0, exhausted: true };
    const read = new Set(rows.map((row) => row.key));
    const queued = this.sql
      .all<{ key: string }>("SELECT key FROM queue WHERE scope = ? AND key >= ? AND key <= ?", filter.scope, rows[0]!.key, last)
      .map((row) => row.key)
      .filter((key) => read.has(key));
    if (queued.length > 0) this.enqueue(filter.scope, queued, hops, now);
    const taken = new Set(queued);
    const fresh = taken.size === 0 ? rows : rows.filter((row) => !taken.has(row.key));
    this.sql.exec(
      `INSERT INTO queue (scope, key, state, attempts, next_run_at, lease_token, hops)
       SELECT ?, value, ${ASSIGNED}, 1, ?, ?, ? FROM json_each(?)`,
      filter.scope,
      claim.leaseUntil,
      claim.token,
      hops,
      JSON.stringify(fresh.map((row) => row.key)),
    );
    claim.items = fresh.map((row) => ({ key: row.key, hops, content: row.content, version: row.version }));
    return { claim, last, read: rows.length, exhausted: rows.length < limit };
  }

  /** Reads the stored content of claimed items that do not carry it yet. */
  load(claim: Claim): void {
    const missing = claim.items.filter((item) => item.content === undefined);
    if (missing.length === 0) return;
    const rows = this.sql.all<{ key: string; content: string | null; version: number }>(
      "SELECT key, content, version FROM records WHERE scope = ? AND key IN (SELECT value FROM json_each(?))",
      claim.scope,
      JSON.stringify(missing.map((item) => item.key)),
    );
    const byKey = new Map(rows.map((row) => [row.key, row]));
    for (const item of missing) {
      const row = byKey.get(item.key);
      item.content = row?.content ?? null;
      item.version = row?.version ?? null;
    }
  }

  /** Claims up to `limit` due items of one scope (the scope of the oldest due item) under a new lease. */
  claim(limit: number, leaseMs: number, now = Date.now()): Claim | undefined {
    const oldest = this.sql.first<{ scope: string }>(
      `SELECT scope FROM queue WHERE state = ${PENDING} AND next_run_at <= ? ORDER BY next_run_at LIMIT 1`,
      now,
    );
    if (!oldest) return undefined;
    const token = crypto.randomUUID();
    const items = this.sql.all<{ key: string; hops: number }>(
      `UPDATE queue SET state = ${ASSIGNED}, lease_token = ?, next_run_at = ?, attempts = attempts + 1
       WHERE scope = ? AND key IN (
         SELECT key FROM queue WHERE state = ${PENDING} AND scope = ? AND next_run_at <= ? ORDER BY next_run_at LIMIT ?
       ) RETURNING key, hops`,
      token,
      now + leaseMs,
      oldest.scope,
      oldest.scope,
      now,
      limit,
    );
    return { scope: oldest.scope, token, leaseUntil: now + leaseMs, items };
  }

  /**
   * Applies a run's result: the listed items failed (retry with backoff, or failed for
   * good), every other item of the run succeeded. Items whose token is no longer the
   * claim's (after a reset or lease expiry) are left as they are. Returns how many completed.
   */
  complete(claim: Claim, failures: Map<string, string>, settings: ReprocessingSettings, now = Date.now()): number {
    const { scope, token } = claim;
    const keys = JSON.stringify(claim.items.map((item) => item.key));
    const failed = [...failures];
    // errors run to 2,000 characters: a few hundred per statement keep the JSON parameter well under 2 MB
    for (let start = 0; start < failed.length; start += FAILURES_PER_STATEMENT) {
      this.sql.exec(
        `UPDATE queue SET
           state = CASE WHEN rerun = 0 AND attempts >= ? THEN ${FAILED} ELSE ${PENDING} END,
           failed_at = CASE WHEN rerun = 0 AND attempts >= ? THEN ? ELSE NULL END,
           next_run_at = ? + ${BACKOFF},
           last_error = f.error, lease_token = NULL, rerun = 0
         FROM (SELECT value ->> 0 AS key, value ->> 1 AS error FROM json_each(?)) AS f
         WHERE queue.scope = ? AND queue.key = f.key AND queue.lease_token = ?`,
        settings.maxAttempts,
        settings.maxAttempts,
        now,
        now,
        settings.maxBackoffMs,
        settings.backoffMs,
        JSON.stringify(failed.slice(start, start + FAILURES_PER_STATEMENT)),
        scope,
        token,
      );
    }
    const mine = `scope = ? AND key IN (SELECT value FROM json_each(?)) AND lease_token = ?`;
    const done = this.sql.run(`DELETE FROM queue WHERE ${mine} AND rerun = 0`, scope, keys, token);
    // what is left under this token was queued again while it ran: due once more
    if (done + failures.size >= claim.items.length) return done;
    const again = this.sql.run(
      `UPDATE queue SET state = ${PENDING}, rerun = 0, attempts = 0, lease_token = NULL, next_run_at = ?, last_error = NULL WHERE ${mine}`,
      now,
      scope,
      keys,
      token,
    );
    return done + again;
  }

  /** Every assigned item goes back to pending for another worker; the run it was in no longer counts. */
  reset(now = Date.now()): number {
    return this.sql.run(
      `UPDATE queue SET state = ${PENDING}, lease_token = NULL, rerun = 0, attempts = max(attempts - 1, 0), next_run_at = ?
       WHERE state = ${ASSIGNED}`,
      now,
    );
  }

  counts(): { pending: number; assigned: number; failed: number } {
    const counts = { pending: 0, assigned: 0, failed: 0 };
    for (const row of this.sql.all<{ state: number; n: number }>("SELECT state, count(*) AS n FROM queue GROUP BY state")) {
      if (row.state === PENDING) counts.pending = row.n;
      else if (row.state === ASSIGNED) counts.assigned = row.n;
      else if (row.state === FAILED) counts.failed = row.n;
    }
    return counts;
  }

  /** When the job next has something to do: the earliest due item or lease expiry. */
  nextWake(): number | undefined {
    const row = this.sql.first<{ at: number | null }>(
      `SELECT min(next_run_at) AS at FROM queue WHERE state IN (${PENDING}, ${ASSIGNED})`,
    );
    return row?.at ?? undefined;
  }

  nextLeaseExpiry(): number | undefined {
    const row = this.sql.first<{ at: number | null }>(`SELECT min(next_run_at) AS at FROM queue WHERE state = ${ASSIGNED}`);
    return row?.at ?? undefined;
  }

  /** Failed items in (scope, key) order after `cursor`. */
  failed(limit: number, cursor?: { scope: string; key: string }): { items: FailedItem[]; nextCursor?: { scope: string; key: string } } {
    const rows = this.sql.all<{ scope: string; key: string; attempts: number; last_error: string | null; failed_at: number | null }>(
      `SELECT scope, key, attempts, last_error, failed_at FROM queue
       WHERE state = ${FAILED} AND (scope, key) > (?, ?) ORDER BY scope, key LIMIT ?`,
      cursor?.scope ?? "",
      cursor?.key ?? "",
      limit + 1,
    );
    const items = rows.slice(0, limit).map((row) => ({
      scope: row.scope,
      key: row.key,
      attempts: row.attempts,
      lastError: row.last_error,
      failedAt: row.failed_at === null ? null : new Date(row.failed_at).toISOString(),
    }));
    const last = items[items.length - 1];
    return rows.length > limit && last ? { items, nextCursor: { scope: last.scope, key: last.key } } : { items };
  }

  /** Failed items (all, or those with these keys) go back to pending with fresh attempts. */
  retryFailed(keys?: string[], now = Date.now()): number {
    const filter = keys ? "AND key IN (SELECT value FROM json_each(?))" : "";
    return this.sql.run(
      `UPDATE queue SET state = ${PENDING}, attempts = 0, next_run_at = ?, failed_at = NULL WHERE state = ${FAILED} ${filter}`,
      now,
      ...(keys ? [JSON.stringify(keys)] : []),
    );
  }

  purgeFailed(): number {
    return this.sql.run(`DELETE FROM queue WHERE state = ${FAILED}`);
  }

  /** Drops pending items; assigned ones finish their run. */
  purgePending(): number {
    return this.sql.run(`DELETE FROM queue WHERE state = ${PENDING}`);
  }
}

export interface RecordFilter {
  scope: string;
  prefix?: string;
  /** ms since the epoch: scopes updated at or after it */
  since?: number;
}

/**
 * Orders keys as the store does: by code point, the order of their UTF-8 bytes. JavaScript's
 * `<` compares UTF-16 units, which puts U+E000..U+FFFF after the surrogate pairs of U+10000 and above.
 */
function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    // equal up to i, so i starts a code point in both, or is the second half of the same leading surrogate
    if (a.charCodeAt(i) !== b.charCodeAt(i)) return a.codePointAt(i)! - b.codePointAt(i)!;
  }
  return a.length - b.length;
}

function recordWhere(filter: RecordFilter): { where: string; args: unknown[] } {
  const clauses = ["scope = ?", "content IS NOT NULL"];
  const args: unknown[] = [filter.scope];
  if (filter.prefix) {
    // the range condition lets SQLite seek the (scope, key) index; substr() ends the range
    clauses.push("key >= ? AND substr(key, 1, length(?)) = ?");
    args.push(filter.prefix, filter.prefix, filter.prefix);
  }
  if (filter.since !== undefined) {
    clauses.push("updated_at >= ?");
    args.push(filter.since);
  }
  return { where: clauses.join(" AND "), args };
}
