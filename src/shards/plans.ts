/**
 * The unit's calls that take more than one routing step (protocol.ts names them `plan`):
 * creation and deletion, a split's start, the cron's visit, a revocation, a batch cut into
 * runs, the lists gathered in two phases, and the run verbs a shard may have no share of.
 * Each is given the unit's router and the Worker's arguments.
 */
import { isFailure, type Failure } from "../errors";
import { forEachConcurrently } from "../concurrency";
import type { ChunkLimits } from "../chunks";
import { chunksWithin } from "../chunks";
import type { StoredLine } from "../schemas";
import type { BatchLineResult } from "../unit/answers";
import type { AdminCaller, Caller } from "../unit/grants";
import { LIST_BUDGET, type StoredRecord } from "../unit/records";
import { runNotFound } from "../unit/run-control";
import { combineRuns, type Run } from "../unit/runs";
import { ONE_SHARD, shardIndexes, type ShardLayout } from "../routing/layout";
import { inOrder, mergeKeys, sum } from "../routing/key-order";
import { SHARDS_AT_ONCE, unrouted } from "../routing/router";
import type { UnitRouter } from "./unit-rpc";

/** A batch line as the route read it: its number in the body, its entry, its size for the runs. */
export type Line = { line: number; entry: StoredLine; bytes: number };

/** Shard 0 creates the unit: it holds the creation's lock, draws the unit's placement seed, lays the other shards, then itself (lifecycle.ts). */
export async function create(
  router: UnitRouter,
  _caller: AdminCaller,
  options: { contentProcessing: boolean; reprocessingQueue: boolean; shards: number },
): Promise<{ createdAt: number } | Failure> {
  const { shards, ...flags } = options;
  const created = await router.shard(0).create(router.name, flags, 0, { shards, splitTo: null });
  // a layout cached for an earlier unit of this name is another incarnation's: learnt again
  router.remember(undefined);
  return created;
}

/** Removes every shard, shard 0 last: a deletion cut short leaves the unit there, to delete again. */
export async function destroy(router: UnitRouter, caller: AdminCaller): Promise<{ name: string } | Failure> {
  const info = await router.shard(0).info(unrouted(caller));
  if (isFailure(info)) return info;
  const removed = await router.onEach(shardIndexes(info.layout).slice(1), async (index) => {
    const result = await router.shard(index).destroy(unrouted(caller));
    return isFailure(result) && result.error === "STORAGE_UNIT_DOESNT_EXIST" ? { name: router.name } : result;
  });
  if (isFailure(removed)) return removed;
  router.remember(undefined);
  return router.shard(0).destroy(unrouted(caller));
}

/**
 * Starts a split (README, "Splitting n → m"): shard 0 takes the split's lock (a second split
 * meanwhile answers 409), lays the new shards with the unit-wide state, records the split and
 * tells the other old shards; they move their keys from their alarms. A start cut short is
 * finished by shard 0's alarm.
 */
export async function splitting(router: UnitRouter, caller: AdminCaller, call: { op: "begin"; to: number }): Promise<{ ok: true } | Failure> {
  const begun = await router.shard(0).splitting(unrouted(caller), call);
  if (isFailure(begun)) return begun;
  router.remember(begun.layout);
  return { ok: true };
}

/**
 * The cron's visit: every shard runs its share of a due schedule and re-arms a lost alarm;
 * shard 0 says whether the unit exists. The layout is asked of shard 0, not taken from the
 * cache: a visit carries no layout a shard could refuse, and a stale one would skip shards.
 */
export async function tick(router: UnitRouter, now: number): Promise<{ exists: boolean }> {
  const layout = await router.layoutOf();
  const visits = await router.onEach(shardIndexes(layout ?? ONE_SHARD), (index) => router.shard(index).tick(now));
  return isFailure(visits) ? { exists: true } : { exists: visits[0]!.exists };
}

/** Every shard forgets the grant, shard 0 first (see onAll), then the others of the layout it answers; `exists` tells whether the unit exists. */
export async function removeGrant(router: UnitRouter, user: string): Promise<{ exists: boolean }> {
  const zero = await router.shard(0).removeGrant(user);
  if (!zero.exists || !zero.layout) return { exists: zero.exists };
  await router.onEach(shardIndexes(zero.layout).slice(1), (index) => router.shard(index).removeGrant(user));
  return { exists: true };
}

/**
 * Applies batch lines on their shards, each shard's in runs within `limits`, the shards at
 * once. A run that fails whole gives each of its lines that error (`thrown` turns an
 * exception into one), unless no line of the batch was applied: then the batch fails whole.
 */
export async function batch(
  router: UnitRouter,
  caller: Caller,
  lines: Line[],
  limits: ChunkLimits,
  thrown: (error: unknown) => Failure,
): Promise<{ applied: number; errors: BatchLineResult[] } | Failure> {
  // a batch whose lines are all bad must still name a unit that exists
  if (lines.length === 0) return router.onFirst(caller, (shard, routed) => shard.batch(routed, []));
  return router.routed(async (layout) => {
    let applied = 0;
    const errors: BatchLineResult[] = [];
    const refusals: Array<{ run: Line[]; error: unknown }> = [];
    const groups = [...router.byShard(lines, (line) => line.entry.key, layout)];
    await forEachConcurrently(groups, SHARDS_AT_ONCE, async ([index, group]) => {
      for (const run of chunksWithin(group, limits)) {
        const sent = run.map(({ line, entry }) => ({ line, entry }));
        try {
          const result = await router.shard(index).batch({ caller, layout }, sent);
          if (isFailure(result)) refusals.push({ run, error: result });
          else {
            applied += result.applied;
            errors.push(...result.errors);
          }
        } catch (error) {
          refusals.push({ run, error });
        }
      }
    });
    const moved = refusals.find(({ error }) => isFailure(error) && error.error === "MOVED");
    if (moved && applied === 0) return moved.error as Failure;
    const [first] = refusals;
    if (first && applied === 0) {
      if (isFailure(first.error)) return first.error;
      throw first.error;
    }
    for (const { run, error } of refusals) {
      const refusal = isFailure(error) ? error : thrown(error);
      for (const { line, entry } of run) errors.push({ line, key: entry.key, error: refusal.error, detail: refusal.detail });
    }
    return { applied, errors };
  });
}

/** Records in the order asked; each shard fills at most its share of the answer's room. */
export function fetchMany(
  router: UnitRouter,
  caller: Caller,
  keys: string[],
  scope?: string,
): Promise<{ records: StoredRecord[]; remainingKeys?: string[] } | Failure> {
  const unique = [...new Set(keys)];
  return router.routed(async (layout) => {
    if (layout.shards === 1) return router.shard(0).fetchMany({ caller, layout }, unique, scope);
    const answers = await recordsOf(router, caller, unique, layout, scope);
    if (isFailure(answers)) return answers;
    const { records, stoppedAt } = inOrder(unique, answers, LIST_BUDGET);
    return stoppedAt === undefined ? { records } : { records, remainingKeys: unique.slice(stoppedAt) };
  });
}

/** A page in byte order of keys: the shards' next keys first, merged, then the chosen records from their shards. */
export function fetchPage(
  router: UnitRouter,
  caller: Caller,
  startId: string | undefined,
  size: number,
  scope?: string,
): Promise<{ records: StoredRecord[]; nextStartId?: string } | Failure> {
  return router.routed(async (layout): Promise<{ records: StoredRecord[]; nextStartId?: string } | Failure> => {
    if (layout.shards === 1 && layout.splitTo === null) return router.shard(0).fetchPage({ caller, layout }, startId, size, scope);
    // during a split each old shard answers for the new shards its keys move to (src/unit/reads.ts, pageKeys)
    const old = Array.from({ length: layout.shards }, (_, index) => index);
    const lists = await router.onEach(old, (index) => router.shard(index).pageKeys({ caller, layout }, startId, size + 1, scope));
    if (isFailure(lists)) return lists;
    const keys = mergeKeys(lists, size + 1);
    const chosen = keys.slice(0, size);
    const answers = await recordsOf(router, caller, chosen, layout, scope);
    if (isFailure(answers)) return answers;
    const { records, stoppedAt } = inOrder(chosen, answers, LIST_BUDGET);
    if (stoppedAt !== undefined) return { records, nextStartId: chosen[stoppedAt] };
    return keys.length > size ? { records, nextStartId: keys[size] } : { records };
  });
}

/** The records of `keys` from their shards under `layout`, each shard within its share of one answer's room. */
function recordsOf(router: UnitRouter, caller: Caller, keys: string[], layout: ShardLayout, scope?: string) {
  const share = Math.floor(LIST_BUDGET / layout.shards);
  return router.onGroups(
    keys,
    (key) => key,
    layout,
    (shard, group) => shard.fetchMany({ caller, layout }, group, scope, share),
  );
}

/** The run `runId` over every shard: a shard laid by a split since has no share of it. */
export async function runPart(router: UnitRouter, caller: Caller, runId: string): Promise<Run | Failure> {
  const parts = await router.everyShard(caller, (shard, routed) => shard.runPart(routed, runId).then(unlessRunNotFound));
  if (isFailure(parts)) return parts;
  const found = parts.filter((part) => part !== null);
  return found.length > 0 ? combineRuns(found) : runNotFound(runId);
}

/** Every shard stops its share; a shard that never had one (laid by a split since) has nothing to drop. */
export async function cancelRun(router: UnitRouter, caller: Caller, runId: string): Promise<{ dropped: number } | Failure> {
  const parts = await router.everyShard(caller, (shard, routed) => shard.cancelRun(routed, runId).then(unlessRunNotFound));
  if (isFailure(parts)) return parts;
  const found = parts.filter((part) => part !== null);
  return found.length > 0 ? { dropped: sum(found.map((part) => part.dropped)) } : runNotFound(runId);
}

/** Failed items back to pending: every shard's, or those of `keys` on their shards. */
export async function retryFailed(router: UnitRouter, caller: Caller, keys?: string[]): Promise<{ requeued: number } | Failure> {
  const parts =
    keys === undefined
      ? await router.everyShard(caller, (shard, routed) => shard.retryFailed(routed))
      : await router.routed((layout) =>
          router.onGroups(
            keys,
            (key) => key,
            layout,
            (shard, group) => shard.retryFailed({ caller, layout }, group),
          ),
        );
  return isFailure(parts) ? parts : { requeued: sum(parts.map((part) => part.requeued)) };
}

/** A shard's RUN_NOT_FOUND as "no share here", other failures as they are. */
function unlessRunNotFound<T>(part: T | Failure): T | Failure | null {
  return isFailure(part) && part.error === "RUN_NOT_FOUND" ? null : part;
}
