/**
 * The parts of one shard of a storage unit and their wiring: each part gets the narrow host
 * it needs (the alarm: alarm.ts; the unit's place on the registry's list: presence.ts; the
 * cron's visit: cron-tick.ts; the other shards: siblings.ts). The object's RPC methods
 * (storage-unit.ts) are each a guard and one call on a part; the alarm runs the job and a
 * split's moves.
 *
 * It uses only what {@link UnitState} describes, so the self-hosted runtimes can give it
 * the same shape over their own SQLite.
 */
import type { Env } from "../env";
import type { Failure } from "../errors";
import { registryOf } from "../bindings";
import { Alarm } from "./alarm";
import { AcrossShards } from "./across-shards";
import { Changes } from "./changes";
import { ConfigStore } from "./config";
import { CronTick } from "./cron-tick";
import { Fills } from "./fills";
import { ADMIN_CALL, GrantStore } from "./grants";
import { Guard } from "./guard";
import { Job } from "./job";
import { Lifecycle } from "./lifecycle";
import { Metrics } from "./metrics";
import { hasSchema, migrate } from "./migrations";
import { Presence } from "./presence";
import { Queue } from "./queue";
import { Rates } from "./rates";
import { Reads } from "./reads";
import { placementOf, ReferenceStore, type Referrer } from "./references";
import { Reprocessing } from "./reprocessing";
import { RunControl } from "./run-control";
import { RunStore } from "./run-store";
import { RecordStore } from "./records";
import { siblingsOf } from "./siblings";
import { Split, type Peer } from "./split";
import { Sql, type UnitState } from "./sql";
import { UnitWide } from "./unit-wide";
import { Writes } from "./writes";

/** When an alarm that was moving keys is due again if it dies on the way (it re-arms sooner when it ends). */
const SPLIT_WATCHDOG_MS = 30_000;

export class UnitParts {
  readonly state: UnitState;
  readonly sql: Sql;
  readonly config: ConfigStore;
  readonly records: RecordStore;
  readonly references: ReferenceStore;
  readonly queue: Queue;
  readonly fills: Fills;
  readonly grants: GrantStore;
  readonly guard: Guard;
  readonly changes: Changes;
  readonly across: AcrossShards;
  readonly job: Job;
  /** the object's alarm (not `alarm`: that is the handler the platform calls) */
  readonly timer: Alarm;
  readonly presence: Presence;
  readonly cron: CronTick;
  readonly runs: RunControl;
  readonly metrics: Metrics;
  readonly split: Split;
  readonly lifecycle: Lifecycle;
  readonly unitWide: UnitWide;
  readonly writes: Writes;
  readonly reads: Reads;
  readonly reprocessing: Reprocessing;

  /**
   * `env`: the bindings the parts keep; `currentEnv`: the object's `env` at each call, for the
   * bindings looked up at each call (a test swaps `env` on a live instance)
   */
  constructor(
    ctx: DurableObjectState,
    env: Env,
    private readonly currentEnv: () => Env,
  ) {
    this.state = ctx as unknown as UnitState;
    this.sql = new Sql(this.state.storage);
    this.config = new ConfigStore(this.sql);
    this.records = new RecordStore(this.sql, env as unknown as Record<string, unknown>);
    this.queue = new Queue(this.sql);
    this.references = new ReferenceStore(this.sql, this.queue, () => placementOf(this.config.get(), (key) => this.split.away(key) !== undefined));
    this.across = new AcrossShards(
      () => this.config.get(),
      this.records,
      this.references,
      this.queue,
      (unit) => siblingsOf(env, unit.name, unit.layout),
      (key) => this.split.away(key),
    );
    this.fills = new Fills(this.sql, this.queue);
    this.grants = new GrantStore(this.sql);
    const rates = new Rates(this.sql);
    this.metrics = new Metrics(this.sql);
    const runStore = new RunStore(this.sql, rates, () => ({ unit: this.config.get()?.name ?? "", shard: this.config.get()?.shard ?? 0 }));
    this.runs = new RunControl({
      queue: this.queue,
      fills: this.fills,
      runs: runStore,
      rates,
      metrics: this.metrics,
      splitting: () => (this.config.get()?.layout.splitTo ?? null) !== null,
    });
    this.guard = new Guard({ config: () => this.config.get(), grants: this.grants, settled: () => this.split.settled() });
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
      registry: { setActive: (name, active) => registryOf(currentEnv()).setActive(name, active, this.config.get()?.shard ?? 0) },
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
      alarmSet: () => this.timer.known,
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
      peer: (unit, index) => this.peer(unit, index),
      destroy: async () => this.guard.withExisting(ADMIN_CALL, () => this.lifecycle.empty()),
      rearm: () => this.job.rearm(),
    });
    this.lifecycle = new Lifecycle(this);
    this.unitWide = new UnitWide(this);
    this.writes = new Writes(this);
    this.reads = new Reads({ records: this.records, split: this.split, stillRouted: (call) => this.guard.refusal(call, "read") });
    this.reprocessing = new Reprocessing(this);
    void this.state.blockConcurrencyWhile(async () => {
      if (hasSchema(this.sql)) migrate(this.sql);
      // one live instance per object: what is assigned now was claimed by runs that died with the last one
      const released = this.job.releaseDeadRuns();
      // a unit that wakes with due work and no alarm re-arms itself (and at once for what was just released)
      if (released || (this.config.get() && (await this.timer.stored()) === null)) await this.job.rearm();
    });
  }

  /** The object's alarm: a split's next step, then the job. */
  async alarm(): Promise<void> {
    this.timer.forget();
    // an alarm means work: list the unit for the cron, should the request that queued it have failed to
    this.presence.noteActivity();
    // should this run be cut short, the split's next step is due all the same
    const split = this.split.wake();
    if (split !== undefined) await this.timer.set(split + SPLIT_WATCHDOG_MS);
    await this.split.step();
    await this.job.run();
  }

  /** Shard `index` of the unit `unit`, by RPC. */
  peer(unit: string, index: number): Peer {
    return siblingsOf(this.currentEnv(), unit).shard(index);
  }

  /** Referrers on this shard of a key that changed on another: no step of its own, since the sender waits on this call in its step. */
  async receiveReferrers(referrers: Referrer[]): Promise<{ ok: true } | Failure> {
    const queued = await this.across.enqueue(referrers);
    await this.afterQueued(referrers.length);
    return queued;
  }

  hasWork(): boolean {
    return this.fills.active() || this.references.waiting() || this.queue.nextWake() !== undefined;
  }

  /** After `queued` items were queued and no record changed (so no referrer either): the job told, the unit listed for the cron. */
  async afterQueued(queued: number): Promise<void> {
    if (queued === 0) return;
    await this.job.armForQueued();
    if (!this.presence.isListed) this.presence.noteActivity();
  }

  /**
   * After anything that may have queued work: queue the first referrers of what changed (one
   * bounded step, those on other shards by a call to theirs: a small fan-out shows in the
   * status at once, a large one is left to the job), arm the alarm and make sure the cron
   * visits this unit.
   */
  async afterEnqueue(referrers = true): Promise<void> {
    // a shard unreachable now leaves its part to the job, which tries again; what was written stays written
    const step = referrers ? this.across.step() : undefined;
    if (typeof step === "object") await step.catch(() => undefined);
    // a step that did not wait has just read the outboxes: the re-arm takes its answer rather than read them again
    await this.job.rearm(typeof step === "boolean" ? step : undefined);
    // the check for work (a read of the fills, the outboxes and the queue) decides only the listing: skipped once listed
    if (!this.presence.isListed && this.hasWork()) this.presence.noteActivity();
  }
}
