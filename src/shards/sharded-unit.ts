/**
 * A storage unit as the Worker (and the registry) sees it: one object per shard, reached as
 * one. A call for one key goes straight to the shard that holds it; a call for the whole
 * unit goes to every shard, at most {@link SHARDS_AT_ONCE} at a time, and their answers are
 * merged (merge.ts). The unit's layout is cached per isolate; every call carries the layout
 * it was routed by, and a shard that knows another answers MOVED: the call is made again by
 * the shard's, so only the first call after a split (or in a new isolate) costs a hop more.
 * A unit of one shard is its one object, called as it always was.
 */
import type { Env } from "../env";
import { isFailure, type Failure } from "../errors";
import { forEachConcurrently } from "../concurrency";
import type { ChunkLimits } from "../chunks";
import { chunksWithin } from "../chunks";
import type { BatchLine, ModulesConfig, ReprocessingSettings, Schedule } from "../schemas";
import type { BatchLineResult, ShardInfo, UnitStatus } from "../unit/answers";
import type { AdminCaller, Caller, Need, Permission, UserCaller } from "../unit/grants";
import type { FailedItem } from "../unit/queue";
import { LIST_BUDGET, type AddPolicy, type DeletePolicy, type Json, type StoredRecord } from "../unit/records";
import type { ScheduleState } from "../unit/schedules";
import { SHARDS_AT_ONCE, ShardRouter, type Stub } from "./shard-router";
import { runNotFound, type RunFilter, type RunRequest } from "../unit/run-control";
import { combineRunLists, combineRuns, type Run, type RunPart } from "../unit/runs";
import type { UnitMetrics } from "../unit/metrics";
import { sumMetrics } from "../http/prometheus";
import { ONE_SHARD, sameLayout, shardIndexes, type ShardLayout } from "./layout";
import { combineInfo, combineStatus, inOrder, mergeFailed, mergeKeys, sum, sumHistory } from "./merge";
import type { HistoryPoint } from "../unit/history";

type Line = { line: number; entry: BatchLine; bytes: number };

/**
 * The unit `name` over its shards.
 * @example const status = unwrap(await shardedUnit(env, "docs").status(caller));
 */
export function shardedUnit(env: Pick<Env, "STORAGE_UNIT">, name: string, known?: ShardLayout): ShardedUnit {
  return new ShardedUnit(env, name, known);
}

export class ShardedUnit extends ShardRouter {
  // ── admin ────────────────────────────────────────────────────────────────

  /** Shard 0 creates the unit: it holds the creation's lock, draws the unit's placement seed, lays the other shards, then itself (unit-admin.ts). */
  async create(_caller: AdminCaller, options: { contentProcessing: boolean; reprocessingQueue: boolean; shards: number }) {
    const { shards, ...flags } = options;
    const created = await this.shard(0).create(this.name, flags, 0, { shards, splitTo: null });
    // a layout cached for an earlier unit of this name is another incarnation's: learnt again
    this.remember(undefined);
    return created;
  }

  /** Removes every shard, shard 0 last: a deletion cut short leaves the unit there, to delete again. */
  async destroy(caller: AdminCaller): Promise<{ name: string } | Failure> {
    const info = await this.shard(0).info(caller);
    if (isFailure(info)) return info;
    const others = shardIndexes(info.layout).slice(1);
    const removed = await this.onEach(others, async (index) => {
      const result = await this.shard(index).destroy(caller);
      return isFailure(result) && result.error === "STORAGE_UNIT_DOESNT_EXIST" ? { name: this.name } : result;
    });
    if (isFailure(removed)) return removed;
    this.remember(undefined);
    return this.shard(0).destroy(caller);
  }

  /**
   * Starts a split into `to` shards (README, "Splitting n → m"): shard 0 takes the split's
   * lock (a second split meanwhile answers 409), lays the new shards with the unit-wide
   * state, records the split and tells the other old shards; they move their keys from their
   * alarms. A start cut short is finished by shard 0's alarm.
   */
  async split(caller: AdminCaller, to: number): Promise<{ ok: true } | Failure> {
    const begun = await this.shard(0).splitting(caller, { op: "begin", to });
    if (isFailure(begun)) return begun;
    this.remember(begun.layout);
    return { ok: true };
  }

  async info(caller: AdminCaller) {
    const parts = await this.everyShard<ShardInfo, AdminCaller>(caller, (shard, routed) => shard.info(routed));
    return isFailure(parts) ? parts : combineInfo(parts);
  }

  getModules(caller: AdminCaller): Promise<ModulesConfig | Failure> {
    return this.routed((layout) => this.shard(0).getModules({ ...caller, layout }));
  }

  setModules(caller: AdminCaller, modules: ModulesConfig) {
    return this.onAll(caller, (shard, routed) => shard.setModules(routed, modules));
  }

  setFlag(caller: AdminCaller, flag: "reprocessingQueue" | "contentProcessing", value: boolean) {
    return this.onAll(caller, (shard, routed) => shard.setFlag(routed, flag, value));
  }

  setSettings(caller: AdminCaller, patch: Partial<ReprocessingSettings>) {
    return this.onAll(caller, (shard, routed) => shard.setSettings(routed, patch));
  }

  /** One `now` for every shard, so that each computes the same next run times. */
  setSchedules(caller: AdminCaller, schedules: Schedule[], now = Date.now()) {
    return this.onAll(caller, (shard, routed) => shard.setSchedules(routed, schedules, now));
  }

  getSchedules(caller: AdminCaller): Promise<ScheduleState[] | Failure> {
    return this.routed((layout) => this.shard(0).getSchedules({ ...caller, layout }));
  }

  /**
   * The cron's visit: every shard runs its share of a due schedule and re-arms a lost alarm;
   * shard 0 says whether the unit exists. The layout is asked of shard 0, not taken from the
   * cache: a visit carries no layout a shard could refuse, and a stale one would skip shards.
   */
  async tick(now: number): Promise<{ exists: boolean }> {
    const layout = await this.layoutOf();
    const visits = await this.onEach(shardIndexes(layout ?? ONE_SHARD), (index) => this.shard(index).tick(now));
    return isFailure(visits) ? { exists: true } : { exists: visits[0]!.exists };
  }

  // ── security ─────────────────────────────────────────────────────────────

  setGrant(caller: AdminCaller, user: string, tokenHash: string, permission: Permission) {
    return this.onAll(caller, (shard, routed) => shard.setGrant(routed, user, tokenHash, permission));
  }

  /** Every shard forgets the grant, shard 0 first (see onAll), then the others of the layout it answers; `exists` tells whether the unit exists. */
  async removeGrant(user: string): Promise<{ exists: boolean }> {
    const zero = await this.shard(0).removeGrant(user);
    if (!zero.exists || !zero.layout) return { exists: zero.exists };
    await this.onEach(shardIndexes(zero.layout).slice(1), (index) => this.shard(index).removeGrant(user));
    return { exists: true };
  }

  checkAccess(caller: UserCaller, need: Need) {
    return this.routed((layout) => this.shard(0).checkAccess({ ...caller, layout }, need));
  }

  // ── one key ──────────────────────────────────────────────────────────────

  add(caller: Caller, scope: string, input: { key: string; content: Json; policy: AddPolicy; version?: number }) {
    return this.onKey(caller, input.key, (shard, routed) => shard.add(routed, scope, input));
  }

  remove(caller: Caller, scope: string, input: { key: string; policy: DeletePolicy; version?: number }) {
    return this.onKey(caller, input.key, (shard, routed) => shard.remove(routed, scope, input));
  }

  fetchRecord(caller: Caller, key: string, scope?: string) {
    return this.onKey(caller, key, (shard, routed) => shard.fetchRecord(routed, key, scope));
  }

  // ── several keys ─────────────────────────────────────────────────────────

  /**
   * Applies batch lines on their shards, each shard's in runs within `limits`, the shards at
   * once. A run that fails whole gives each of its lines that error (`thrown` turns an
   * exception into one), unless no line of the batch was applied: then the batch fails whole.
   */
  async batch(caller: Caller, lines: Line[], limits: ChunkLimits, thrown: (error: unknown) => Failure) {
    // a batch whose lines are all bad must still name a unit that exists
    if (lines.length === 0) return this.routed((layout) => this.shard(0).batch({ ...caller, layout }, []));
    return this.routed(async (layout) => {
      let applied = 0;
      const errors: BatchLineResult[] = [];
      const refusals: Array<{ run: Line[]; error: unknown }> = [];
      const groups = [...this.byShard(lines, (line) => line.entry.key, layout)];
      await forEachConcurrently(groups, SHARDS_AT_ONCE, async ([index, group]) => {
        for (const run of chunksWithin(group, limits)) {
          const routed = { ...caller, layout };
          const sent = run.map(({ line, entry }) => ({ line, entry }));
          try {
            const result = await this.shard(index).batch(routed, sent);
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
  async fetchMany(caller: Caller, keys: string[], scope?: string): Promise<{ records: StoredRecord[]; remainingKeys?: string[] } | Failure> {
    const unique = [...new Set(keys)];
    return this.routed(async (layout) => {
      if (layout.shards === 1) return this.shard(0).fetchMany({ ...caller, layout }, unique, scope);
      const share = Math.floor(LIST_BUDGET / layout.shards);
      const answers = await this.onGroups(
        unique,
        (key) => key,
        layout,
        (shard, group) => shard.fetchMany({ ...caller, layout }, group, scope, share),
      );
      if (isFailure(answers)) return answers;
      const { records, stoppedAt } = inOrder(unique, answers, LIST_BUDGET);
      return stoppedAt === undefined ? { records } : { records, remainingKeys: unique.slice(stoppedAt) };
    });
  }

  /** A page in byte order of keys: the shards' next keys first, merged, then the chosen records from their shards. */
  async fetchPage(caller: Caller, startId: string | undefined, size: number, scope?: string) {
    return this.routed(async (layout): Promise<{ records: StoredRecord[]; nextStartId?: string } | Failure> => {
      if (layout.shards === 1 && layout.splitTo === null) return this.shard(0).fetchPage({ ...caller, layout }, startId, size, scope);
      // during a split each old shard answers for the new shards its keys move to (storage-unit.ts, pageKeys)
      const lists = await this.onEach(range(layout.shards), (index) => this.shard(index).pageKeys({ ...caller, layout }, startId, size + 1, scope));
      if (isFailure(lists)) return lists;
      const keys = mergeKeys(lists, size + 1);
      const chosen = keys.slice(0, size);
      const share = Math.floor(LIST_BUDGET / layout.shards);
      const answers = await this.onGroups(
        chosen,
        (key) => key,
        layout,
        (shard, group) => shard.fetchMany({ ...caller, layout }, group, scope, share),
      );
      if (isFailure(answers)) return answers;
      const { records, stoppedAt } = inOrder(chosen, answers, LIST_BUDGET);
      if (stoppedAt !== undefined) return { records, nextStartId: chosen[stoppedAt] };
      return keys.length > size ? { records, nextStartId: keys[size] } : { records };
    });
  }

  // ── reprocessing ─────────────────────────────────────────────────────────

  async reprocessKeys(caller: Caller, scope: string, keys: string[]): Promise<{ queued: number; missing: string[] } | Failure> {
    const unique = [...new Set(keys)];
    return this.routed(async (layout) => {
      const answers = await this.onGroups(
        unique,
        (key) => key,
        layout,
        (shard, group) => shard.reprocessKeys({ ...caller, layout }, scope, group),
      );
      if (isFailure(answers)) return answers;
      const missing = new Set(answers.flatMap((answer) => answer.missing));
      return { queued: sum(answers.map((answer) => answer.queued)), missing: unique.filter((key) => missing.has(key)) };
    });
  }

  /** Every shard starts its share of the run under the one id given. */
  async reprocessAll(caller: Caller, scope: string, filter: RunFilter, run: RunRequest) {
    const parts = await this.everyShard(caller, (shard, routed) => shard.reprocessAll(routed, scope, filter, run));
    return isFailure(parts) ? parts : { queued: sum(parts.map((part) => part.queued)) };
  }

  // ── runs ─────────────────────────────────────────────────────────────────

  async runs(caller: Caller, limit: number): Promise<Run[] | Failure> {
    const lists = await this.everyShard<RunPart[]>(caller, (shard, routed) => shard.runList(routed, limit));
    return isFailure(lists) ? lists : combineRunLists(lists, limit);
  }

  async run(caller: Caller, runId: string): Promise<Run | Failure> {
    const parts = await this.everyShard(caller, (shard, routed) => shard.runPart(routed, runId).then(unlessRunNotFound));
    if (isFailure(parts)) return parts;
    const found = parts.filter((part) => part !== null);
    return found.length > 0 ? combineRuns(found) : runNotFound(runId);
  }

  /** Every shard stops its share; a shard that never had one (laid by a split since) has nothing to drop. */
  async cancelRun(caller: Caller, runId: string): Promise<{ dropped: number } | Failure> {
    const parts = await this.everyShard(caller, (shard, routed) => shard.cancelRun(routed, runId).then(unlessRunNotFound));
    if (isFailure(parts)) return parts;
    const found = parts.filter((part) => part !== null);
    return found.length > 0 ? { dropped: sum(found.map((part) => part.dropped)) } : runNotFound(runId);
  }

  async metrics(caller: AdminCaller): Promise<UnitMetrics | Failure> {
    const parts = await this.everyShard<UnitMetrics, AdminCaller>(caller, (shard, routed) => shard.metricsOf(routed));
    return isFailure(parts) ? parts : sumMetrics(parts);
  }

  async reset(caller: Caller) {
    const parts = await this.everyShard(caller, (shard, routed) => shard.reset(routed));
    return isFailure(parts) ? parts : { unassigned: sum(parts.map((part) => part.unassigned)) };
  }

  async status(caller: Caller): Promise<UnitStatus | Failure> {
    const parts = await this.everyShard<UnitStatus>(caller, (shard, routed) => shard.status(routed));
    return isFailure(parts) ? parts : combineStatus(parts);
  }

  /** One `now` for every shard, so that they answer the same minutes. */
  async history(caller: Caller, minutes: number, now = Date.now()): Promise<HistoryPoint[] | Failure> {
    const parts = await this.everyShard<HistoryPoint[]>(caller, (shard, routed) => shard.history(routed, minutes, now));
    return isFailure(parts) ? parts : sumHistory(parts);
  }

  setPaused(caller: Caller, paused: boolean) {
    return this.onAll(caller, (shard, routed) => shard.setPaused(routed, paused));
  }

  async failedItems(caller: Caller, limit: number, cursor?: { scope: string; key: string }) {
    const pages = await this.everyShard<{ items: FailedItem[]; nextCursor?: { scope: string; key: string } }>(caller, (shard, routed) =>
      shard.failedItems(routed, limit, cursor),
    );
    return isFailure(pages) ? pages : mergeFailed(pages, limit);
  }

  async retryFailed(caller: Caller, keys?: string[]) {
    const parts =
      keys === undefined
        ? await this.everyShard(caller, (shard, routed) => shard.retryFailed(routed))
        : await this.routed((layout) =>
            this.onGroups(
              keys,
              (key) => key,
              layout,
              (shard, group) => shard.retryFailed({ ...caller, layout }, group),
            ),
          );
    return isFailure(parts) ? parts : { requeued: sum(parts.map((part) => part.requeued)) };
  }

  async purgeFailed(caller: Caller) {
    const parts = await this.everyShard(caller, (shard, routed) => shard.purgeFailed(routed));
    return isFailure(parts) ? parts : { purged: sum(parts.map((part) => part.purged)) };
  }

  async purge(caller: Caller) {
    const parts = await this.everyShard(caller, (shard, routed) => shard.purge(routed));
    return isFailure(parts) ? parts : { purged: sum(parts.map((part) => part.purged)) };
  }

  // ── a shard's work across its unit ───────────────────────────────────────

  /**
   * `remote` on each group of `items` by their keys' shards, at once, routed by the unit's
   * layout (after a MOVED, every group again by the new one: the calls are made to be repeated);
   * the group of shard `local.shard` is given to `local.run` instead, when it routes by the
   * layout that shard holds. Answers the groups' results with their shard indexes.
   * @example await unit.onShardsOf(ADMIN, referrers, (r) => r.key, (shard, group, routed) => shard.enqueueReferrers(routed, group), here);
   */
  onShardsOf<I, T>(
    caller: AdminCaller,
    items: I[],
    keyOf: (item: I) => string,
    remote: (shard: Stub, group: I[], routed: AdminCaller, groups: number) => Promise<T | Failure>,
    local?: { shard: number; layout: ShardLayout; run: (group: I[], groups: number) => T | Promise<T> },
  ): Promise<Array<{ index: number; result: T }> | Failure> {
    return this.routed(async (layout) => {
      const groups = this.byShard(items, keyOf, layout);
      const indexes = [...groups.keys()];
      const here = local && sameLayout(local.layout, layout) ? local : undefined;
      const results = await this.onEach(indexes, async (index) => {
        const group = groups.get(index)!;
        const result =
          index === here?.shard ? await here.run(group, groups.size) : await remote(this.shard(index), group, { ...caller, layout }, groups.size);
        return isFailure(result) ? result : { index, result };
      });
      return results;
    });
  }
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, index) => index);
}

/** A shard's RUN_NOT_FOUND as "no share here", other failures as they are. */
function unlessRunNotFound<T>(part: T | Failure): T | Failure | null {
  return isFailure(part) && part.error === "RUN_NOT_FOUND" ? null : part;
}
