/**
 * The transitions of the queue's state machine (queue.ts), each written once as the effect it
 * has on a row: the columns it sets. queue.ts says to which rows each applies.
 */
import type { ReprocessingSettings } from "../schemas";
import { join, q, raw, type Query } from "./sql";
import { ASSIGNED, FAILED, PENDING } from "./queue-states";

/** A transition's effect on a row: column → its new value. */
export type Effect = Record<string, Query>;

export const stateIs = (state: number) => raw(`state = ${state}`);
export const toState = (state: number) => raw(String(state));

/** The `SET` list of effects applied together. */
export function set(...effects: Effect[]): Query {
  return join(Object.entries(Object.assign({}, ...effects) as Effect).map(([column, value]) => q`${raw(column)} = ${value}`));
}

/**
 * The `SET` list of one effect per row: that of the first branch whose condition holds,
 * else `otherwise`; a column an effect leaves out keeps its value.
 */
export function choose(branches: Array<[when: Query, effect: Effect]>, otherwise: Effect): Query {
  const columns = new Set([...branches.flatMap(([, effect]) => Object.keys(effect)), ...Object.keys(otherwise)]);
  return join(
    [...columns].map((column) => {
      const keep = raw(column);
      const cases = join(
        branches.map(([when, effect]) => q`WHEN ${when} THEN ${effect[column] ?? keep}`),
        " ",
      );
      return q`${keep} = CASE ${cases} ELSE ${otherwise[column] ?? keep} END`;
    }),
  );
}

/**
 * A change not yet seen starts over: fresh attempts, due at `now`, nothing left of an
 * earlier failure. Failed → pending (queued again, or retryFailed), and assigned → pending
 * when the item was queued again while it ran (its run, whatever the outcome, saw the change before).
 */
export function startOver(now: Query): Effect {
  return { state: toState(PENDING), attempts: raw("0"), next_run_at: now, last_error: raw("NULL"), failed_at: raw("NULL") };
}

/** A run ends: only an assigned item holds a lease token or a rerun mark. */
export const RELEASE: Effect = { lease_token: raw("NULL"), rerun: raw("0") };

/** Queued again while assigned: the item runs once more after its run. */
export const QUEUED_AGAIN = raw("rerun = 1");

/** pending → assigned under a lease (its end in `next_run_at`) and a run token: the claim is an attempt. */
export function lease(token: string, until: number): Effect {
  return { state: toState(ASSIGNED), lease_token: q`${token}`, next_run_at: q`${until}`, attempts: raw("attempts + 1") };
}

/**
 * A run failed for this item (`error`: its module's error, or the lease ran out). Queued
 * again meanwhile: it starts over, the failure was the older change's. Attempts left:
 * pending again at `retryAt`. None left: failed for good, with the error.
 */
export function failOrRetry(error: Query, retryAt: Query, maxAttempts: number, now: number): Query {
  const failure = choose(
    [
      [QUEUED_AGAIN, startOver(q`${now}`)],
      [q`attempts >= ${maxAttempts}`, { state: toState(FAILED), failed_at: q`${now}`, last_error: error }],
    ],
    { state: toState(PENDING), next_run_at: retryAt, last_error: error },
  );
  return join([failure, set(RELEASE)]);
}

/** When a failed attempt is retried: `backoffMs` doubled per attempt made, capped at `maxBackoffMs`. */
export function backoff(settings: ReprocessingSettings, now: number): Query {
  return q`${now} + min(${settings.maxBackoffMs}, ${settings.backoffMs} * (1 << min(attempts - 1, 40)))`;
}

/** assigned → pending at `now` (reset): the run no longer counts, nor does its attempt. */
export function unassign(now: number): Effect {
  return { state: toState(PENDING), attempts: raw("max(attempts - 1, 0)"), next_run_at: q`${now}`, ...RELEASE };
}

/**
 * What enqueuing does to an item already there: pending stays (dedup; the newer hops
 * count), assigned runs once more after its run, failed starts over. A plain string, with
 * no bindings: the inserted row (`excluded`) carries the time and hops.
 */
export const ON_CONFLICT = `ON CONFLICT (scope, key) DO UPDATE SET ${
  choose(
    [
      [stateIs(ASSIGNED), { rerun: raw("1"), run: raw("excluded.run") }],
      [stateIs(FAILED), { ...startOver(raw("excluded.next_run_at")), hops: raw("excluded.hops"), run: raw("excluded.run") }],
    ],
    { hops: raw("excluded.hops"), run: raw("excluded.run") },
  ).text
}`;
