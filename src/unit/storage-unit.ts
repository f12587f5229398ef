/**
 * The StorageUnit Durable Object: one per storage unit, holding its records, configuration
 * and reprocess queue in its own SQLite. Its public methods are the RPC surface the routes
 * call; they answer data or a {@link Failure}, never HTTP, and each opens with its guard
 * (guard.ts), which names who may call it. Its alarm is the reprocessing job. It builds its
 * parts and wires each to the narrow host it needs: the alarm (alarm.ts), the unit's place
 * on the registry's list (presence.ts), the cron's visit (cron-tick.ts).
 *
 * It uses only what {@link UnitState} describes, so the self-hosted runtimes can give it
 * the same shape over their own SQLite.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { failure, isFailure, type Failure } from "../errors";
import { registryOf } from "../bindings";
import type { BatchLine, ModulesConfig, ReprocessingSettings, Schedule } from "../schemas";
import { Alarm } from "./alarm";
import { Changes } from "./changes";
import { ConfigStore, type UnitConfig } from "./config";
import { CronTick } from "./cron-tick";
import { Fills } from "./fills";
import { ADMIN, GrantStore, type AdminCaller, type Caller, type Need, type Permission, type UserCaller } from "./grants";
import { Guard } from "./guard";
import { Job } from "./job";
import { Metrics, type UnitMetrics } from "./metrics";
import { hasSchema, migrate } from "./migrations";
import { Presence } from "./presence";
import { Queue, type FailedItem } from "./queue";
import { placementOf, ReferenceStore, type Reference, type Referrer } from "./references";
import { AcrossShards } from "./across-shards";
import { Rates } from "./rates";
import { RunControl, type RunFilter, type RunRequest } from "./run-control";
import { RunStore } from "./run-store";
import type { RunPart } from "./runs";
import { RecordStore, type AddPolicy, type DeletePolicy, type Json, type StoredRecord } from "./records";
import { nextRunTimes, scheduleWithoutPipeline, type ScheduleState } from "./schedules";
import { Sql, type UnitState } from "./sql";
import type { BatchLineResult, ShardInfo, UnitStatus } from "./answers";
import { ONE_SHARD, shardName, type ShardLayout } from "../shards/layout";
import { sum } from "../shards/merge";
import { Split, splitRefusal, type Peer, type SplitAnswer, type SplitCall } from "./split";
import { acrossSplit, recordsInOrder } from "./split-forward";

/** When an alarm that was moving keys is due again if it dies on the way (it re-arms sooner when it ends). */
const SPLIT_WATCHDOG_MS = 30_000;

export class StorageUnit extends DurableObject<Env> {
  private readonly state: UnitState;
  private readonly sql: Sql;
  private readonly config: ConfigStore;
  private readonly records: RecordStore;
  private readonly references: ReferenceStore;
  private readonly queue: Queue;
  private readonly fills: Fills;
  private readonly grants: GrantStore;
  private readonly guard: Guard;
  private readonly changes: Changes;
  private readonly across: AcrossShards;
  private readonly job: Job;
  /** the object's alarm (not `alarm`: that is the handler the platform calls) */
  private readonly timer: Alarm;
  private readonly presence: Presence;
  private readonly cron: CronTick;
  private readonly runs: RunControl;
  private readonly metrics: Metrics;
  private readonly split: Split;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.state = ctx as unknown as UnitState;
    this.sql = new Sql(this.state.storage);
    this.config = new ConfigStore(this.sql);
    this.records = new RecordStore(this.sql, env as unknown as Record<string, unknown>);
    this.queue = new Queue(this.sql);
    this.references = new ReferenceStore(this.sql, this.queue, () => placementOf(this.config.get()));
    this.across = new AcrossShards(() => this.config.get(), this.records, this.references, this.queue, env);
    this.fills = new Fills(this.sql, this.queue);
    this.grants = new GrantStore(this.sql);
    const rates = new Rates(this.sql);
    this.metrics = new Metrics(this.sql);
    const runStore = new RunStore(this.sql, rates, () => this.config.get()?.name ?? "");
    this.runs = new RunControl({ queue: this.queue, fills: this.fills, runs: runStore, rates, metrics: this.metrics });
    this.guard = new Guard({ config: () => this.config.get(), grants: this.grants });
    this.changes = new Changes(
      this.sql,
      this.records,
      this.references,
      this.queue,
      () => this.config.get(),
      this.across,
      (key) => this.split.away(key, true) !== undefined,
    );
    this.timer = new Alarm(this.state.storage);
    this.presence = new Presence({
      unitName: () => this.config.get()?.name,
      // the binding is looked up at each call, not kept: a test swaps `env` on a live instance
      registry: { setActive: (name, active) => registryOf(this.env).setActive(name, active, this.config.get()?.shard ?? 0) },
    });
    this.job = new Job({
      queue: this.queue,
      fills: this.fills,
      config: () => this.config.get(),
      addProcessed: (count, lastError) => {
        this.config.addProcessed(count);
        if (lastError !== undefined) this.config.update({ lastError });
      },
      env: env as unknown as Record<string, unknown>,
      unitAccess: (createdAt, budget) => this.changes.moduleAccess(createdAt, budget),
      queueReferrers: () => this.across.step(),
      referrersWaiting: () => this.references.waiting(),
      setAlarm: (at) => this.timer.set(at),
      batchDone: (ms, processed, finished) => this.runs.batchDone(ms, processed, finished),
      leasesExpired: (finished) => this.runs.leasesExpired(finished),
      splitWake: () => this.split.wake(),
    });
    this.cron = new CronTick({
      unit: () => this.config.get(),
      saveSchedules: (schedules) => this.config.update({ schedules }),
      startRun: (scope, runId) => this.runs.start(scope, {}, { runId, trigger: "schedule" }),
      hasWork: () => this.hasWork(),
      alarm: this.timer,
      rearm: () => this.job.rearm(),
      presence: this.presence,
    });
    this.split = new Split({
      sql: this.sql,
      config: this.config,
      grants: this.grants,
      fills: this.fills,
      blockConcurrencyWhile: (fn) => this.state.blockConcurrencyWhile(fn),
      peer: (unit, index) => this.env.STORAGE_UNIT.getByName(shardName(unit, index)) as unknown as Peer,
      destroy: () => this.destroy(ADMIN),
      rearm: () => this.job.rearm(),
    });
    void this.state.blockConcurrencyWhile(async () => {
      if (hasSchema(this.sql)) migrate(this.sql);
      // a unit that wakes with due work and no alarm re-arms itself
      if (this.config.get() && (await this.timer.stored()) === null) await this.job.rearm();
    });
  }

  override async alarm(): Promise<void> {
    this.timer.forget();
    // an alarm means work: list the unit for the cron, should the request that queued it have failed to
    this.presence.noteActivity();
    // should this run be cut short, the split's next step is due all the same
    const split = this.split.wake();
    if (split !== undefined) await this.timer.set(split + SPLIT_WATCHDOG_MS);
    await this.split.step();
    await this.job.run();
  }

  // ── admin ────────────────────────────────────────────────────────────────
  // Only the admin's routes (and the registry) call these.

  /** Lays shard `shard` of unit `name`; shard 0 decides whether the unit exists, and is laid last (sharded-unit.ts). */
  async create(
    name: string,
    options: { contentProcessing: boolean; reprocessingQueue: boolean },
    shard = 0,
    layout: ShardLayout = ONE_SHARD,
  ): Promise<{ createdAt: number } | Failure> {
    if (this.config.get()) {
      if (shard === 0) return failure("STORAGE_UNIT_ALREADY_EXISTS", `storage unit '${name}' already exists; delete it first or pick another name`);
      // a shard left by a creation that did not finish (shard 0 was never laid) starts again empty
      await this.destroy(ADMIN);
    }
    migrate(this.sql);
    this.config.create(name, options.contentProcessing, options.reprocessingQueue, shard, layout);
    return { createdAt: this.config.get()!.createdAt };
  }

  /** Removes records, queue, configuration and alarm; the object is left empty and ready to be created again. */
  async destroy(caller: AdminCaller): Promise<{ name: string } | Failure> {
    return this.guard.withExisting(caller, async (unit) => {
      await this.state.storage.deleteAll();
      await this.timer.clear();
      this.presence.forget();
      // deleteAll() clears storage, not this instance's caches; create() lays the schema again
      this.config.invalidate();
      return { name: unit.name };
    });
  }

  async info(caller: AdminCaller): Promise<ShardInfo | Failure> {
    return this.guard.withExisting(caller, ({ modules: _modules, schedules: _schedules, ...rest }) => ({
      ...rest,
      splitting: this.split.progress(rest as UnitConfig),
      records: this.records.count(),
      queue: this.queue.counts(),
      bytes: this.sql.databaseSize,
    }));
  }

  async getModules(caller: AdminCaller): Promise<ModulesConfig | Failure> {
    return this.guard.withExisting(caller, (unit) => unit.modules);
  }

  /** Stores an already validated configuration (see checkModulesConfig). */
  async setModules(caller: AdminCaller, modules: ModulesConfig): Promise<{ ok: true } | Failure> {
    return this.guard.withExisting(caller, () => {
      this.config.update({ modules });
      return { ok: true };
    });
  }

  async setFlag(caller: AdminCaller, flag: "reprocessingQueue" | "contentProcessing", value: boolean): Promise<{ ok: true } | Failure> {
    return this.guard.withExisting(caller, () => {
      this.config.update({ [flag]: value });
      return { ok: true };
    });
  }

  async setSettings(caller: AdminCaller, patch: Partial<ReprocessingSettings>): Promise<ReprocessingSettings | Failure> {
    return this.guard.withExisting(caller, async (unit) => {
      const settings = { ...unit.settings, ...patch };
      if (settings.maxBackoffMs < settings.backoffMs) {
        return failure("INVALID_REQUEST", `maxBackoffMs (${settings.maxBackoffMs}) must be at least backoffMs (${settings.backoffMs})`);
      }
      this.config.update({ settings });
      await this.job.rearm();
      return settings;
    });
  }

  async setSchedules(caller: AdminCaller, schedules: Schedule[], now = Date.now()): Promise<ScheduleState[] | Failure> {
    return this.guard.withExisting(caller, (unit) => {
      const states = nextRunTimes(schedules, now);
      if ("error" in states) return states;
      const unpiped = scheduleWithoutPipeline(schedules, unit.modules, unit.name);
      if (unpiped) return unpiped;
      this.config.update({ schedules: states });
      this.presence.noteActivity();
      return states;
    });
  }

  async getSchedules(caller: AdminCaller): Promise<ScheduleState[] | Failure> {
    return this.guard.withExisting(caller, (unit) => unit.schedules as ScheduleState[]);
  }

  // ── transactions ─────────────────────────────────────────────────────────

  async add(
    caller: Caller,
    scope: string,
    input: { key: string; content: Json; policy: AddPolicy; version?: number },
  ): Promise<{ ok: true } | Failure> {
    return this.write(caller, input.key, () => this.records.add(input.key, scope, input.content, input.policy, input.version ?? Date.now()));
  }

  async remove(caller: Caller, scope: string, input: { key: string; policy: DeletePolicy; version?: number }): Promise<{ ok: true } | Failure> {
    return this.write(caller, input.key, () => this.records.delete(input.key, scope, input.policy, input.version ?? Date.now()));
  }

  /** Applies lines of a batch, each on its own; each line carries its number in the caller's body, for its error. */
  async batch(caller: Caller, lines: Array<{ line: number; entry: BatchLine }>): Promise<{ applied: number; errors: BatchLineResult[] } | Failure> {
    return this.guard.withUnit(
      caller,
      "write",
      async (unit) => {
        const result = this.changes.applyLines(unit, lines);
        await this.afterEnqueue();
        return result;
      },
      (unit) => (lines.length > 0 ? splitRefusal(unit) : undefined),
    );
  }

  // ── access ───────────────────────────────────────────────────────────────

  async fetchRecord(caller: Caller, key: string, scope?: string): Promise<StoredRecord | Failure> {
    return this.guard.withUnit(caller, "read", () => {
      const away = this.split.away(key);
      if (away !== undefined) return this.split.peer(away).fetchRecord(caller, key, scope);
      return this.records.get(key, scope) ?? failure("KEY_NOT_FOUND", scope ? `record '${key}' has no scope '${scope}'` : `no record '${key}'`);
    });
  }

  /** `maxBytes`: this shard's part of the answer's room, when the answer gathers several shards. */
  async fetchMany(
    caller: Caller,
    keys: string[],
    scope?: string,
    maxBytes?: number,
  ): Promise<{ records: StoredRecord[]; remainingKeys?: string[] } | Failure> {
    return this.guard.withUnit(caller, "read", async () => {
      const parts = await acrossSplit(
        this.split,
        keys,
        (here) => this.records.getMany(here, scope, maxBytes),
        (peer, gone) => peer.fetchMany(caller, gone, scope, maxBytes),
      );
      return isFailure(parts) ? parts : recordsInOrder(keys, parts, maxBytes);
    });
  }

  /** The first `limit` keys from `startId` (inclusive) in byte order: a page over several shards is chosen on keys first. */
  async pageKeys(caller: Caller, startId: string | undefined, limit: number, scope?: string): Promise<string[] | Failure> {
    return this.guard.withUnit(caller, "read", () => this.records.pageKeys(startId, limit, scope));
  }

  async fetchPage(
    caller: Caller,
    startId: string | undefined,
    size: number,
    scope?: string,
  ): Promise<{ records: StoredRecord[]; nextStartId?: string } | Failure> {
    return this.guard.withUnit(caller, "read", () => this.records.page(startId, size, scope));
  }

  // ── reprocessing ─────────────────────────────────────────────────────────

  async reprocessKeys(caller: Caller, scope: string, keys: string[]): Promise<{ queued: number; missing: string[] } | Failure> {
    return this.guard.withQueue(caller, "write", async () => {
      const parts = await acrossSplit(
        this.split,
        [...new Set(keys)],
        (here) => {
          const existing = this.records.existing(scope, here);
          const found = here.filter((key) => existing.has(key));
          this.queue.enqueue(scope, found);
          return { queued: found.length, missing: here.filter((key) => !existing.has(key)) };
        },
        (peer, gone) => peer.reprocessKeys(caller, scope, gone),
      );
      if (isFailure(parts)) return parts;
      await this.afterEnqueue();
      return { queued: sum(parts.map((part) => part.queued)), missing: parts.flatMap((part) => part.missing) };
    });
  }

  /** Starts this shard's share of the run `run.runId` (run-control.ts). */
  async reprocessAll(caller: Caller, scope: string, filter: RunFilter, run: RunRequest): Promise<{ queued: number } | Failure> {
    return this.guard.withQueue(caller, "write", async () => {
      const started = this.runs.start(scope, filter, run);
      await this.afterEnqueue();
      return started;
    });
  }

  // this shard's share of runs: the routes combine shards (runs.ts)
  async runList(caller: Caller, limit: number): Promise<RunPart[] | Failure> {
    return this.guard.withUnit(caller, "read", () => this.runs.list(limit));
  }

  async runPart(caller: Caller, runId: string): Promise<RunPart | Failure> {
    return this.guard.withUnit(caller, "read", () => this.runs.part(runId));
  }

  async cancelRun(caller: Caller, runId: string): Promise<{ dropped: number } | Failure> {
    return this.guard.withUnit(caller, "write", async () => this.runs.cancel(runId));
  }

  async metricsOf(caller: AdminCaller): Promise<UnitMetrics | Failure> {
    return this.guard.withExisting(caller, (unit) => ({
      records: this.records.count(),
      processedTotal: unit.processed,
      ...this.queue.counts(),
      ...this.metrics.read(),
    }));
  }

  async reset(caller: Caller): Promise<{ unassigned: number } | Failure> {
    return this.guard.withQueue(caller, "write", async () => {
      const unassigned = this.queue.reset();
      await this.afterEnqueue();
      return { unassigned };
    });
  }

  async status(caller: Caller): Promise<UnitStatus | Failure> {
    // every figure is read after the last await, so they come from one moment and add up
    const alarm = await this.timer.stored();
    return this.guard.withUnit(caller, "read", (unit) => ({
      enabled: unit.reprocessingQueue,
      paused: unit.paused,
      filling: this.fills.active(),
      fillRemaining: this.fills.remaining(),
      ...this.queue.counts(),
      itemsPerSecond: this.runs.unitRate(),
      processed: unit.processed,
      // while the job runs, its next run is now
      nextRunAt: this.job.busy ? new Date().toISOString() : alarm === null ? null : new Date(alarm).toISOString(),
      lastError: unit.lastError,
      splitting: this.split.progress(unit),
    }));
  }

  async setPaused(caller: Caller, paused: boolean): Promise<{ ok: true } | Failure> {
    return this.guard.withUnit(caller, "write", async () => {
      this.config.update({ paused });
      await this.job.rearm();
      return { ok: true };
    });
  }

  async failedItems(
    caller: Caller,
    limit: number,
    cursor?: { scope: string; key: string },
  ): Promise<{ items: FailedItem[]; nextCursor?: { scope: string; key: string } } | Failure> {
    return this.guard.withUnit(caller, "read", () => this.queue.failed(limit, cursor));
  }

  async retryFailed(caller: Caller, keys?: string[]): Promise<{ requeued: number } | Failure> {
    return this.guard.withUnit(caller, "write", async () => {
      const parts =
        keys === undefined
          ? [{ requeued: this.queue.retryFailed() }]
          : await acrossSplit(
              this.split,
              keys,
              (here) => ({ requeued: this.queue.retryFailed(here) }),
              (peer, gone) => peer.retryFailed(caller, gone),
            );
      if (isFailure(parts)) return parts;
      await this.afterEnqueue();
      return { requeued: sum(parts.map((part) => part.requeued)) };
    });
  }

  async purgeFailed(caller: Caller): Promise<{ purged: number } | Failure> {
    return this.guard.withUnit(caller, "write", () => ({ purged: this.queue.purgeFailed() }));
  }

  async purge(caller: Caller): Promise<{ purged: number } | Failure> {
    return this.guard.withUnit(caller, "write", async () => {
      const purged = this.sql.transaction(() => {
        this.fills.clear();
        this.references.clearOutbox();
        return this.queue.purgePending();
      });
      await this.job.rearm();
      return { purged };
    });
  }

  /** The cron trigger's visit (see cron-tick.ts). Returns whether the unit exists. */
  async tick(now = Date.now()): Promise<{ exists: boolean }> {
    return this.cron.run(now);
  }

  // ── security ─────────────────────────────────────────────────────────────

  /** Stores a user's grant and token hash, pushed by the registry (a rotation re-sends it with the new hash). */
  async setGrant(caller: AdminCaller, user: string, tokenHash: string, permission: Permission): Promise<{ ok: true } | Failure> {
    return this.guard.withExisting(caller, () => {
      this.grants.set(user, tokenHash, permission);
      return { ok: true };
    });
  }

  /** Drops a user's grant; `exists` tells whether the unit itself exists. */
  async removeGrant(user: string): Promise<{ exists: boolean }> {
    const exists = this.config.get() !== undefined;
    if (exists) this.grants.remove(user);
    return { exists };
  }

  /** The grant check alone, for a user's request that must be refused before its body is read. */
  async checkAccess(caller: UserCaller, need: Need): Promise<{ ok: true } | Failure> {
    return this.guard.withUnit(caller, need, () => ({ ok: true }));
  }

  // ── splitting ────────────────────────────────────────────────────────────

  /** The steps of a split (split.ts), called by the Worker's splitStorageUnit and by the unit's shards. */
  async splitting<C extends SplitCall>(caller: AdminCaller, call: C): Promise<SplitAnswer<C> | Failure> {
    // a new shard is laid where the unit does not exist yet
    if (call.op === "lay") return this.split.lay(call) as Promise<SplitAnswer<C>>;
    return this.guard.withExisting(caller, (unit) => this.split.handle(unit, call));
  }

  // ── across shards: a shard's calls to the others of its unit (across-shards.ts) ──

  /** `scope` of this shard's `keys` as JSON texts within `maxBytes`, once the reverse rows the reader sends are set. */
  async readContents(caller: AdminCaller, keys: string[], scope: string, maxBytes: number, references: Reference[]) {
    return this.guard.withExisting(caller, () => this.across.readHere(keys, scope, maxBytes, references));
  }

  /** Reverse rows of this shard's keys, from their referrers' shards. */
  async applyReferences(caller: AdminCaller, references: Reference[]) {
    return this.guard.withExisting(caller, () => this.across.arrive(references));
  }

  /** Referrers on this shard of a key that changed on another: no step of its own, since the sender waits on this call in its step. */
  async enqueueReferrers(caller: AdminCaller, referrers: Referrer[]) {
    return this.guard.withExisting(caller, async () => {
      this.across.enqueue(referrers);
      await this.afterEnqueue(false);
      return { ok: true as const };
    });
  }

  // ── internals ────────────────────────────────────────────────────────────

  private hasWork(): boolean {
    return this.fills.active() || this.references.waiting() || this.queue.nextWake() !== undefined;
  }

  /** A client's write of one key: applied in one transaction with what it sets in motion, then the job is told. */
  private async write(caller: Caller, key: string, apply: () => { changed: string[] } | Failure): Promise<{ ok: true } | Failure> {
    return this.guard.withUnit(
      caller,
      "write",
      async (unit) => {
        const result = this.sql.transaction(() => {
          const outcome = apply();
          if (!("error" in outcome)) this.changes.changed(unit, key, outcome.changed, 0);
          return outcome;
        });
        if ("error" in result) return result;
        await this.afterEnqueue();
        return { ok: true as const };
      },
      splitRefusal,
    );
  }

  /**
   * After anything that may have queued work: queue the first referrers of what changed (one
   * bounded step, those on other shards by a call to theirs: a small fan-out shows in the
   * status at once, a large one is left to the job), arm the alarm and make sure the cron
   * visits this unit.
   */
  private async afterEnqueue(referrers = true): Promise<void> {
    // a shard unreachable now leaves its part to the job, which tries again; what was written stays written
    const step = referrers ? this.across.step() : false;
    if (typeof step !== "boolean") await step.catch(() => undefined);
    await this.job.rearm();
    if (this.hasWork()) this.presence.noteActivity();
  }
}
