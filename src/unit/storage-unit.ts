/**
 * The StorageUnit Durable Object: one per shard of a storage unit (a one-shard unit is one
 * object), holding its records, configuration and reprocess queue in its own SQLite. Its RPC
 * methods are the rows of the shard protocol (src/shards/protocol.ts); each answers data or a
 * {@link Failure}, never HTTP, and is its guard (guard.ts: who may call it, and whether the
 * call was routed to the right shard) and one call on a part (unit-parts.ts builds and wires
 * them). Its alarm is the reprocessing job, and a split's moves.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import type { Failure } from "../errors";
import type { ShardLayout } from "../routing/layout";
import type { RoutedCall } from "../routing/router";
import type { ModulesConfig, ReprocessingSettings, Schedule, StoredLine } from "../schemas";
import type { BatchLineResult, ShardInfo, UnitStatus } from "./answers";
import type { AdminCaller, Caller, Need, Permission, UserCaller } from "./grants";
import type { HistoryPoint } from "./history";
import type { UnitMetrics } from "./metrics";
import type { FailedItem } from "./queue";
import type { AddPolicy, DeletePolicy, StoredRecord } from "./records";
import type { Reference, Referrer } from "./references";
import type { RunFilter, RunRequest } from "./run-control";
import type { RunPart } from "./runs";
import type { ScheduleState } from "./schedules";
import type { SplitAnswer, SplitCall } from "./split";
import { UnitParts } from "./unit-parts";

type FailedCursor = { scope: string; key: string };

export class StorageUnit extends DurableObject<Env> {
  private readonly parts: UnitParts;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.parts = new UnitParts(ctx, env, () => this.env);
  }

  override alarm(): Promise<void> {
    return this.parts.alarm();
  }

  // ── admin: the admin's routes and the registry ─────────────────────────────

  /**
   * Creates the unit (on shard 0, which lays the others under the creation's lock), or lays
   * shard `shard` > 0 of it (called by shard 0): lifecycle.ts. No guard: the unit does not exist yet.
   */
  async create(name: string, options: { contentProcessing: boolean; reprocessingQueue: boolean }, shard = 0, layout?: ShardLayout) {
    return this.parts.lifecycle.create(name, options, shard, layout);
  }

  /** Removes records, queue, configuration and alarm; the object is left empty and ready to be created again. */
  async destroy(call: RoutedCall<AdminCaller>): Promise<{ name: string } | Failure> {
    return this.parts.guard.withExisting(call, async (unit) => {
      await this.parts.lifecycle.empty();
      return { name: unit.name };
    });
  }

  async info(call: RoutedCall<AdminCaller>): Promise<ShardInfo | Failure> {
    return this.parts.guard.withExisting(call, (unit) => this.parts.lifecycle.info(unit));
  }

  async getModules(call: RoutedCall<AdminCaller>): Promise<ModulesConfig | Failure> {
    return this.parts.guard.withExisting(call, (unit) => unit.modules);
  }

  /** Stores an already validated configuration (see checkModulesConfig). */
  async setModules(call: RoutedCall<AdminCaller>, modules: ModulesConfig): Promise<{ ok: true } | Failure> {
    return this.parts.guard.changing(call, "write", () => this.parts.unitWide.setModules(modules));
  }

  async setFlag(call: RoutedCall<AdminCaller>, flag: "reprocessingQueue" | "contentProcessing", value: boolean): Promise<{ ok: true } | Failure> {
    return this.parts.guard.changing(call, "write", () => this.parts.unitWide.setFlag(flag, value));
  }

  async setSettings(call: RoutedCall<AdminCaller>, patch: Partial<ReprocessingSettings>): Promise<ReprocessingSettings | Failure> {
    return this.parts.guard.changing(call, "write", (unit) => this.parts.unitWide.setSettings(unit, patch));
  }

  async setSchedules(call: RoutedCall<AdminCaller>, schedules: Schedule[], now = Date.now()): Promise<ScheduleState[] | Failure> {
    return this.parts.guard.changing(call, "write", (unit) => this.parts.unitWide.setSchedules(unit, schedules, now));
  }

  async getSchedules(call: RoutedCall<AdminCaller>): Promise<ScheduleState[] | Failure> {
    return this.parts.guard.withExisting(call, (unit) => unit.schedules as ScheduleState[]);
  }

  /** The cron trigger's visit (cron-tick.ts). Returns whether the unit exists. */
  async tick(now = Date.now()): Promise<{ exists: boolean }> {
    return this.parts.cron.run(now);
  }

  /** The steps of a split (split.ts): "begin" called by the Worker on shard 0, the others by the unit's shards; "lay" where the unit does not exist yet. */
  async splitting<C extends SplitCall>(call: RoutedCall<AdminCaller>, step: C): Promise<SplitAnswer<C> | Failure> {
    if (step.op === "lay") return this.parts.split.lay(step) as Promise<SplitAnswer<C>>;
    return this.parts.guard.withExisting(call, (unit) => this.parts.split.handle(unit, step));
  }

  // ── security ─────────────────────────────────────────────────────────────

  /** Stores a user's grant and token hash, pushed by the registry (a rotation re-sends it with the new hash). */
  async setGrant(call: RoutedCall<AdminCaller>, user: string, tokenHash: string, permission: Permission): Promise<{ ok: true } | Failure> {
    return this.parts.guard.changing(call, "write", () => this.parts.unitWide.setGrant(user, tokenHash, permission));
  }

  /** Drops a user's grant (the registry's call: no call); `exists` tells whether the unit exists (unit-wide.ts). */
  async removeGrant(user: string): Promise<{ exists: boolean; layout?: ShardLayout }> {
    return this.parts.unitWide.removeGrant(user);
  }

  /** The grant check alone, for a user's request that must be refused before its body is read. */
  async checkAccess(call: RoutedCall<UserCaller>, need: Need): Promise<{ ok: true } | Failure> {
    return this.parts.guard.withUnit(call, need, () => ({ ok: true as const }));
  }

  // ── records ──────────────────────────────────────────────────────────────

  async add(
    call: RoutedCall<Caller>,
    scope: string,
    input: { key: string; contentJson: string; policy: AddPolicy; version?: number },
  ): Promise<{ ok: true } | Failure> {
    return this.parts.guard.withUnit(call, "write", (unit) => this.parts.writes.add(unit, call, scope, input));
  }

  async remove(
    call: RoutedCall<Caller>,
    scope: string,
    input: { key: string; policy: DeletePolicy; version?: number },
  ): Promise<{ ok: true } | Failure> {
    return this.parts.guard.withUnit(call, "write", (unit) => this.parts.writes.remove(unit, call, scope, input));
  }

  /** Lines of a batch, each applied on its own; each carries its number in the caller's body, for its error. */
  async batch(
    call: RoutedCall<Caller>,
    lines: Array<{ line: number; entry: StoredLine }>,
  ): Promise<{ applied: number; errors: BatchLineResult[] } | Failure> {
    return this.parts.guard.withUnit(call, "write", (unit) => this.parts.writes.batch(unit, call, lines));
  }

  async fetchRecord(call: RoutedCall<Caller>, key: string, scope?: string): Promise<StoredRecord | Failure> {
    return this.parts.guard.withUnit(call, "read", () => this.parts.reads.record(call, key, scope));
  }

  /** `maxBytes`: this shard's part of the answer's room, when the answer gathers several shards. */
  async fetchMany(
    call: RoutedCall<Caller>,
    keys: string[],
    scope?: string,
    maxBytes?: number,
  ): Promise<{ records: StoredRecord[]; remainingKeys?: string[] } | Failure> {
    return this.parts.guard.withUnit(call, "read", () => this.parts.reads.many(call, keys, scope, maxBytes));
  }

  /** The first `limit` keys from `startId` in byte order, for a page over several shards (reads.ts). */
  async pageKeys(call: RoutedCall<Caller>, startId: string | undefined, limit: number, scope?: string): Promise<string[] | Failure> {
    return this.parts.guard.withUnit(call, "read", () => this.parts.reads.pageKeys(call, startId, limit, scope));
  }

  async fetchPage(
    call: RoutedCall<Caller>,
    startId: string | undefined,
    size: number,
    scope?: string,
  ): Promise<{ records: StoredRecord[]; nextStartId?: string } | Failure> {
    return this.parts.guard.withUnit(call, "read", () => this.parts.reads.page(call, startId, size, scope));
  }

  // ── reprocessing ─────────────────────────────────────────────────────────

  async reprocessKeys(call: RoutedCall<Caller>, scope: string, keys: string[]): Promise<{ queued: number; missing: string[] } | Failure> {
    return this.parts.guard.withQueue(call, "write", (unit) => this.parts.reprocessing.keys(unit, call, scope, keys));
  }

  /** Starts this shard's share of the run `run.runId` (run-control.ts). */
  async reprocessAll(call: RoutedCall<Caller>, scope: string, filter: RunFilter, run: RunRequest): Promise<{ queued: number } | Failure> {
    return this.parts.guard.withQueue(call, "write", (unit) => this.parts.reprocessing.all(unit, scope, filter, run));
  }

  /** This shard's share of the runs (the Worker combines the shards': runs.ts). */
  async runList(call: RoutedCall<Caller>, limit: number): Promise<RunPart[] | Failure> {
    return this.parts.guard.withUnit(call, "read", () => this.parts.runs.list(limit));
  }

  async runPart(call: RoutedCall<Caller>, runId: string): Promise<RunPart | Failure> {
    return this.parts.guard.withUnit(call, "read", () => this.parts.runs.part(runId));
  }

  async cancelRun(call: RoutedCall<Caller>, runId: string): Promise<{ dropped: number } | Failure> {
    return this.parts.guard.withUnit(call, "write", () => this.parts.runs.cancel(runId));
  }

  async metricsOf(call: RoutedCall<AdminCaller>): Promise<UnitMetrics | Failure> {
    return this.parts.guard.withExisting(call, (unit) => this.parts.reprocessing.metrics(unit));
  }

  async reset(call: RoutedCall<Caller>): Promise<{ unassigned: number } | Failure> {
    return this.parts.guard.withQueue(call, "write", () => this.parts.reprocessing.reset());
  }

  async status(call: RoutedCall<Caller>): Promise<UnitStatus | Failure> {
    return this.parts.guard.withUnit(call, "read", (unit) => this.parts.reprocessing.status(unit));
  }

  /** The queue per minute over the last `minutes` up to the minute of `now` (given by the call, so every shard answers the same minutes). */
  async history(call: RoutedCall<Caller>, minutes: number, now: number): Promise<HistoryPoint[] | Failure> {
    return this.parts.guard.withUnit(call, "read", () => this.parts.queue.history(minutes, now));
  }

  async setPaused(call: RoutedCall<Caller>, paused: boolean): Promise<{ ok: true } | Failure> {
    return this.parts.guard.changing(call, "write", () => this.parts.reprocessing.setPaused(paused));
  }

  async failedItems(
    call: RoutedCall<Caller>,
    limit: number,
    cursor?: FailedCursor,
  ): Promise<{ items: FailedItem[]; nextCursor?: FailedCursor } | Failure> {
    return this.parts.guard.withUnit(call, "read", () => this.parts.queue.failed(limit, cursor));
  }

  async retryFailed(call: RoutedCall<Caller>, keys?: string[]): Promise<{ requeued: number } | Failure> {
    return this.parts.guard.withUnit(call, "write", () => this.parts.reprocessing.retryFailed(call, keys));
  }

  async purgeFailed(call: RoutedCall<Caller>): Promise<{ purged: number } | Failure> {
    return this.parts.guard.withUnit(call, "write", () => ({ purged: this.parts.queue.purgeFailed() }));
  }

  async purge(call: RoutedCall<Caller>): Promise<{ purged: number } | Failure> {
    return this.parts.guard.withUnit(call, "write", () => this.parts.reprocessing.purge());
  }

  // ── a shard's calls to the others of its unit (across-shards.ts) ───────────

  /** `scope` of this shard's `keys` as JSON texts within `maxBytes`, once the reverse rows the reader sends are set. */
  async readContents(call: RoutedCall<AdminCaller>, keys: string[], scope: string, maxBytes: number, references: Reference[]) {
    return this.parts.guard.withExisting(call, () => this.parts.across.readHere(keys, scope, maxBytes, references));
  }

  /** Reverse rows of this shard's keys, from their referrers' shards. */
  async applyReferences(call: RoutedCall<AdminCaller>, references: Reference[]) {
    return this.parts.guard.withExisting(call, () => this.parts.across.arrive(references));
  }

  /** Referrers on this shard of a key that changed on another: no step of its own, since the sender waits on this call in its step. */
  async enqueueReferrers(call: RoutedCall<AdminCaller>, referrers: Referrer[]) {
    return this.parts.guard.withExisting(call, () => this.parts.receiveReferrers(referrers));
  }
}
