/**
 * The reprocess queue: owns table `queue`, one row per (scope, key), and the state machine
 * of DESIGN.md. States: pending (0) → assigned (1, under a lease and a run token) → removed
 * on success, pending again with backoff on failure, failed (2) after `maxAttempts`. For an
 * assigned item `next_run_at` holds its lease expiry, so one index finds both due items
 * and expired leases.
 *
 * Every transition is written once, in queue-effects.ts, as the effect it has on a row (an `Effect`);
 * the methods only say which rows it applies to:
 * - enqueue ({@link ON_CONFLICT}): new → pending; pending stays (dedup); assigned is marked
 *   to run once more; failed starts over;
 * - claim ({@link lease}): pending and due → assigned, counting an attempt;
 * - success: removed, or, when queued again while it ran, started over ({@link startOver});
 * - fail or retry ({@link failOrRetry}), for a module's failure, an expired lease and a run
 *   that died with the unit's previous instance alike;
 * - reset ({@link unassign}): assigned → pending, the attempt not counted;
 * - retryFailed: failed → pending, started over like an enqueue of a failed item;
 * - purge: failed or pending rows deleted.
 *
 * Every method also tallies what it did (queue-counters.ts) and writes the tally in the same
 * step: the items per state, and the open / processed / failed counts of the run an item
 * belongs to (`run`: the run that queued it last; a write queuing it again takes it out of
 * its run, a newer `reprocess/all` takes it over).
 *
 * Invariants: an item is in exactly one state; only an assigned item holds a lease token
 * or a rerun mark, only a failed one a `failed_at`; a result is applied only through the
 * run token it was claimed with, so a stale run (after reset or lease expiry) changes
 * nothing. Every statement is set-based: key lists travel as one JSON parameter (`json_each`).
 */
import type { ReprocessingSettings } from "../schemas";
import type { HistoryPoint } from "./history";
import { QueueCounters, Tally, type Finished } from "./queue-counters";
import { q, raw, type Query, type Sql } from "./sql";
import { ASSIGNED, FAILED, PENDING } from "./queue-states";
import { backoff, failOrRetry, lease, ON_CONFLICT, set, startOver, stateIs, unassign, RELEASE, QUEUED_AGAIN, toState } from "./queue-effects";

export { ASSIGNED, FAILED, PENDING } from "./queue-states";

export interface ClaimedItem {
  key: string;
  hops: number;
  /** the run it belonged to when claimed (null: none); it stays the run's unless it is queued again, which marks it to rerun */
  run: number | null;
  /** the scope's stored content (null: deleted), when the claim read it already */
  content?: string | null;
  version?: number | null;
}

export interface Claim {
  scope: string;
  token: string;
  leaseUntil: number;
  items: ClaimedItem[];
  /**
   * keys in the store's order between which every item lies, when they came as one stretch of
   * the store (a fill's chunk): completion then finds its rows by a range of the primary key
   */
  span?: { first: string; last: string };
}

export interface FailedItem {
  scope: string;
  key: string;
  attempts: number;
  lastError: string | null;
  failedAt: string | null;
}

const FAILURES_PER_STATEMENT = 250;

/** The error an item carries when its run outlived its lease. */
export const LEASE_EXPIRED = "lease expired: the run did not finish within leaseMs";
/** The error an item carries when its run died with the unit's instance (a restart, a crash, an eviction). */
export const RUN_DIED = "run died: the instance of the unit that ran it ended (a restart, a crash or an eviction); due again at once";

export interface QueueCounts {
  pending: number;
  assigned: number;
  failed: number;
}

export class Queue {
  private readonly counters: QueueCounters;

  constructor(private readonly sql: Sql) {
    this.counters = new QueueCounters(sql);
  }

  /** Queues these keys of one scope for `run` (null: for no run); returns how many. */
  enqueue(scope: string, keys: string[], hops = 0, now = Date.now(), run: number | null = null): number {
    if (keys.length === 0) return 0;
    return this.enqueueSelected(q`SELECT ${scope} AS scope, value AS key FROM json_each(${JSON.stringify(keys)})`, hops, now, run).length;
  }

  /** Queues these (scope, key) items, of any scopes (referrers: see references.ts); returns how many. */
  enqueueItems(items: Array<{ scope: string; key: string }>, hops: number, now = Date.now()): number {
    if (items.length === 0) return 0;
    const select = q`SELECT value ->> 0 AS scope, value ->> 1 AS key FROM json_each(${JSON.stringify(items.map((item) => [item.scope, item.key]))})`;
    this.enqueueSelected(select, hops, now);
    return items.length;
  }

  /** Queues the (scope, key) rows `select` gives, in one statement, for `run`; returns their keys. */
  enqueueSelected(select: Query, hops = 0, now = Date.now(), run: number | null = null): string[] {
    // what the upsert will find: its rows' states and runs, for the counters (RETURNING sees only the new row);
    // CROSS JOIN keeps the selection outside, each of its rows one seek by primary key, never a scan of the queue
    const found = this.sql.all<{ state: number; run: number | null; n: number }>(
      q`SELECT queue.state, queue.run, count(*) AS n FROM (${select}) AS s CROSS JOIN queue ON queue.scope = s.scope AND queue.key = s.key
        GROUP BY queue.state, queue.run`,
    );
    const rows = this.sql.all<{ key: string }>(
      // `WHERE true` tells SQLite's parser that ON CONFLICT is the upsert's, not a join's
      q`INSERT INTO queue (scope, key, state, attempts, next_run_at, hops, run)
        SELECT scope, key, ${toState(PENDING)}, 0, ${now}, ${hops}, ${run} FROM (${select}) WHERE true
        ${raw(ON_CONFLICT)} RETURNING key`,
    );
    const tally = new Tally();
    let added = rows.length;
    for (const row of found) {
      added -= row.n;
      if (row.state === FAILED) tally.move(FAILED, PENDING, row.n).run(run, { open: row.n });
      else if (row.run !== run) tally.run(row.run, { open: -row.n }).run(run, { open: row.n });
    }
    tally.move(null, PENDING, added).run(run, { open: added });
    this.counters.apply(tally);
    return rows.map((row) => row.key);
  }

  /**
   * Claims the keys of one scope that are not queued yet under a new lease, inserting them
   * assigned (a fill's keys: no pending stage, which saves a write per item). Keys already
   * queued keep their course, as when queued again. `keys` are in the store's key order, and the
   * claim's items keep it.
   */
  claimKeys(scope: string, keys: string[], leaseMs: number, hops: number, now = Date.now(), run: number | null = null): Claim {
    const claim: Claim = { scope, token: crypto.randomUUID(), leaseUntil: now + leaseMs, items: [] };
    if (keys.length === 0) return claim;
    claim.span = { first: keys[0]!, last: keys[keys.length - 1]! };
    // a range read of the (scope, key) key: usually no row, where an IN list would seek every key
    const inRange = this.sql
      .all<{ key: string }>(q`SELECT key FROM queue WHERE scope = ${scope} AND key >= ${claim.span.first} AND key <= ${claim.span.last}`)
      .map((row) => row.key);
    const wanted = inRange.length === 0 ? undefined : new Set(keys);
    const queued = wanted ? inRange.filter((key) => wanted.has(key)) : [];
    if (queued.length > 0) this.enqueue(scope, queued, hops, now, run);
    const taken = new Set(queued);
    const fresh = taken.size === 0 ? keys : keys.filter((key) => !taken.has(key));
    // the lease of `lease()` on a new row: its first attempt
    this.sql.exec(
      q`INSERT INTO queue (scope, key, state, attempts, next_run_at, lease_token, hops, run)
        SELECT ${scope}, value, ${toState(ASSIGNED)}, 1, ${claim.leaseUntil}, ${claim.token}, ${hops}, ${run} FROM json_each(${JSON.stringify(fresh)})`,
    );
    this.counters.apply(new Tally().move(null, ASSIGNED, fresh.length).run(run, { open: fresh.length }));
    claim.items = fresh.map((key) => ({ key, hops, run }));
    return claim;
  }

  /**
   * Items whose lease ran out fail with {@link LEASE_EXPIRED}: a run that keeps dying must
   * not loop forever. They are due at once: the lease was the wait.
   */
  expireLeases(maxAttempts: number, now = Date.now()): { expired: number; finished: Finished } {
    return this.failAssigned(q`next_run_at <= ${now}`, LEASE_EXPIRED, raw("next_run_at"), maxAttempts, now);
  }

  /**
   * Every assigned item fails with {@link RUN_DIED}, due at once, whatever its lease. Called as
   * the unit's instance starts: an object has one live instance, so an item assigned then
   * was claimed by an instance that is gone, with its run; the result of that run, should it
   * still arrive, is discarded by its token. An attempt, as an expired lease is: a run that
   * keeps taking its runtime down must not loop forever.
   */
  releaseDeadRuns(maxAttempts: number, now = Date.now()): { expired: number; finished: Finished } {
    return this.failAssigned(raw("true"), RUN_DIED, q`${now}`, maxAttempts, now);
  }

  /** The assigned items `which` selects fail with `error` (retried at `retryAt`, or failed for good). */
  private failAssigned(which: Query, error: string, retryAt: Query, maxAttempts: number, now: number): { expired: number; finished: Finished } {
    const rows = this.sql.all<{ state: number; run: number | null }>(
      q`UPDATE queue SET ${failOrRetry(q`${error}`, retryAt, maxAttempts, now)} WHERE ${stateIs(ASSIGNED)} AND ${which} RETURNING state, run`,
    );
    const tally = new Tally();
    const finished: Finished = new Map();
    for (const row of rows) this.failedOrRetried(tally, finished, row);
    this.counters.apply(tally);
    return { expired: rows.length, finished };
  }

  /** Tallies an assigned item after a failure: pending again, or failed for good. */
  private failedOrRetried(tally: Tally, finished: Finished, row: { state: number; run: number | null }): void {
    tally.move(ASSIGNED, row.state, 1);
    if (row.state !== FAILED) return;
    tally.run(row.run, { open: -1, failed: 1 }).finished(0, 1);
    addFinished(finished, row.run, 0, 1);
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
    const due = q`${stateIs(PENDING)} AND next_run_at <= ${now}`;
    const oldest = this.sql.first<{ scope: string }>(q`SELECT scope FROM queue WHERE ${due} ORDER BY next_run_at LIMIT 1`);
    if (!oldest) return undefined;
    const token = crypto.randomUUID();
    const items = this.sql.all<{ key: string; hops: number; run: number | null }>(
      q`UPDATE queue SET ${set(lease(token, now + leaseMs))}
        WHERE scope = ${oldest.scope} AND key IN (
          SELECT key FROM queue WHERE ${due} AND scope = ${oldest.scope} ORDER BY next_run_at LIMIT ${limit}
        ) RETURNING key, hops, run`,
    );
    this.counters.apply(new Tally().move(PENDING, ASSIGNED, items.length));
    return { scope: oldest.scope, token, leaseUntil: now + leaseMs, items };
  }

  /**
   * Applies a run's result: the listed items failed (retry with backoff, or failed for
   * good), every other item of the run succeeded. Items whose token is no longer the
   * claim's (after a reset or lease expiry) are left as they are. Returns how many completed
   * (`processed`: those queued again while they ran count too, as they did run) and the
   * items that left the queue, by run.
   */
  complete(
    claim: Claim,
    failures: Map<string, string>,
    settings: ReprocessingSettings,
    now = Date.now(),
  ): { processed: number; failed: number; finished: Finished } {
    const { scope, token } = claim;
    const failed = [...failures];
    const tally = new Tally();
    const finished: Finished = new Map();
    // errors run to 2,000 characters: a few hundred per statement keep the JSON parameter well under 2 MB
    for (let start = 0; start < failed.length; start += FAILURES_PER_STATEMENT) {
      const chunk = JSON.stringify(failed.slice(start, start + FAILURES_PER_STATEMENT));
      const rows = this.sql.all<{ state: number; run: number | null }>(
        q`UPDATE queue SET ${failOrRetry(raw("f.error"), backoff(settings, now), settings.maxAttempts, now)}
          FROM (SELECT value ->> 0 AS key, value ->> 1 AS error FROM json_each(${chunk})) AS f
          WHERE queue.scope = ${scope} AND queue.key = f.key AND queue.lease_token = ${token} RETURNING queue.state, queue.run`,
      );
      for (const row of rows) this.failedOrRetried(tally, finished, row);
    }
    // by (scope, key), the primary key, then the token: there is no index on the token. Only
    // this claim's rows hold its token, so a range around its keys finds the same rows as
    // their list, and a stretch of the store's keys is read without parsing and seeking each
    const mineOf = (keys: ClaimedItem[]) =>
      q`scope = ${scope} AND key IN (SELECT value FROM json_each(${JSON.stringify(keys.map((item) => item.key))})) AND lease_token = ${token}`;
    const mine = claim.span
      ? q`scope = ${scope} AND key >= ${claim.span.first} AND key <= ${claim.span.last} AND lease_token = ${token}`
      : mineOf(claim.items);
    // one statement per run the items belonged to (almost always one): a row deleted was still its claim's
    // run's (being queued again marks it to rerun), so each count is that run's without reading the rows back
    let done = 0;
    for (const [run, items] of byRun(claim.items)) {
      const n = this.sql.run(q`DELETE FROM queue WHERE ${items.length === claim.items.length ? mine : mineOf(items)} AND NOT ${QUEUED_AGAIN}`);
      done += n;
      tally.run(run, { open: -n, processed: n });
      addFinished(finished, run, n, 0);
    }
    tally.move(ASSIGNED, null, done);
    let failedForGood = 0;
    for (const { failed } of finished.values()) failedForGood += failed;
    // what is left under this token was queued again while it ran: due once more
    let again = 0;
    if (done + failures.size < claim.items.length) {
      again = this.sql.run(q`UPDATE queue SET ${set(startOver(q`${now}`), RELEASE)} WHERE ${mine}`);
      tally.move(ASSIGNED, PENDING, again);
    }
    this.counters.apply(tally.finished(done + again, 0));
    return { processed: done + again, failed: failedForGood, finished };
  }

  /** Every assigned item goes back to pending for another worker; the run it was in no longer counts. */
  reset(now = Date.now()): number {
    const n = this.sql.run(q`UPDATE queue SET ${set(unassign(now))} WHERE ${stateIs(ASSIGNED)}`);
    this.counters.apply(new Tally().move(ASSIGNED, PENDING, n));
    return n;
  }

  /** The last `minutes` minutes of the queue's history (history.ts), oldest first. */
  history(minutes: number, now = Date.now()): HistoryPoint[] {
    return this.counters.history.points(minutes, this.counts().pending, now);
  }

  /** Items per state, from the counters (queue-counters.ts): no count over the queue. */
  counts(): QueueCounts {
    return this.counters.counts();
  }

  /** When the job next has something to do: the earliest due item or lease expiry. */
  nextWake(): number | undefined {
    const row = this.sql.first<{ at: number | null }>(`SELECT min(next_run_at) AS at FROM queue WHERE state IN (${PENDING}, ${ASSIGNED})`);
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

  /**
   * Failed items (all, or those with these keys) start over, as when queued again: the
   * failure's error and time go with it (the unit's `lastError` keeps the latest error).
   * A retry is a request of its own: the items leave their run, which counted them failed.
   */
  retryFailed(keys?: string[], now = Date.now()): number {
    const some = keys ? q`AND key IN (SELECT value FROM json_each(${JSON.stringify(keys)}))` : raw("");
    const n = this.sql.run(q`UPDATE queue SET ${set(startOver(q`${now}`), { run: raw("NULL") })} WHERE ${stateIs(FAILED)} ${some}`);
    this.counters.apply(new Tally().move(FAILED, PENDING, n));
    return n;
  }

  purgeFailed(): number {
    const n = this.sql.run(`DELETE FROM queue WHERE state = ${FAILED}`);
    this.counters.apply(new Tally().move(FAILED, null, n));
    return n;
  }

  /** Drops pending items; assigned ones finish their run. */
  purgePending(): number {
    // a purge is rare: its runs are counted here rather than kept per item in memory
    const byRun = this.sql.all<{ run: number; n: number }>(
      `SELECT run, count(*) AS n FROM queue WHERE state = ${PENDING} AND run IS NOT NULL GROUP BY run`,
    );
    const n = this.sql.run(`DELETE FROM queue WHERE state = ${PENDING}`);
    const tally = new Tally().move(PENDING, null, n);
    for (const row of byRun) tally.run(row.run, { open: -row.n });
    this.counters.apply(tally);
    return n;
  }

  /** Drops the pending items of one run (a cancel); its assigned ones finish. Returns how many. */
  dropRun(run: number): number {
    const n = this.sql.run(q`DELETE FROM queue WHERE ${stateIs(PENDING)} AND run = ${run}`);
    this.counters.apply(new Tally().move(PENDING, null, n).run(run, { open: -n }));
    return n;
  }
}

function byRun(items: ClaimedItem[]): Map<number | null, ClaimedItem[]> {
  const groups = new Map<number | null, ClaimedItem[]>();
  for (const item of items) {
    const group = groups.get(item.run);
    if (group) group.push(item);
    else groups.set(item.run, [item]);
  }
  return groups;
}

function addFinished(finished: Finished, run: number | null, processed: number, failed: number): void {
  const key = run ?? 0;
  const entry = finished.get(key) ?? { processed: 0, failed: 0 };
  entry.processed += processed;
  entry.failed += failed;
  finished.set(key, entry);
}
