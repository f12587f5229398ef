/**
 * The StorageUnit Durable Object's parts and their wiring: one object per shard of a storage
 * unit, holding its records, configuration and reprocess queue in its own SQLite. The RPC
 * methods are on the classes built on this one (unit-admin.ts for the admin's, registry's and
 * other shards' calls; storage-unit.ts for the routes' calls a user may make). Its alarm is the
 * reprocessing job, and a split's move (split.ts). It builds its parts and wires each to the
 * narrow host it needs: the alarm (alarm.ts), the unit's place on the registry's list
 * (presence.ts), the cron's visit (cron-tick.ts).
 *
 * It uses only what {@link UnitState} describes, so the self-hosted runtimes can give it
 * the same shape over their own SQLite.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import type { Failure } from "../errors";
import { registryOf } from "../bindings";
import { Alarm } from "./alarm";
import { Changes } from "./changes";
import { ConfigStore } from "./config";
import { CronTick } from "./cron-tick";
import { Fills } from "./fills";
import { ADMIN, GrantStore, type AdminCaller, type Caller } from "./grants";
import { Guard } from "./guard";
import { Job } from "./job";
import { Metrics } from "./metrics";
import { hasSchema, migrate } from "./migrations";
import { Presence } from "./presence";
import { Queue } from "./queue";
import { placementOf, ReferenceStore } from "./references";
import { AcrossShards } from "./across-shards";
import { Rates } from "./rates";
import { RunControl } from "./run-control";
import { RunStore } from "./run-store";
import { RecordStore } from "./records";
import { Sql, type UnitState } from "./sql";
import { Split, type Peer } from "./split";
import { siblingsOf } from "./siblings";
import { unrouted } from "./split-forward";
import { moved } from "../routing/layout";

/** When an alarm that was moving keys is due again if it dies on the way (it re-arms sooner when it ends). */
const SPLIT_WATCHDOG_MS = 30_000;

export abstract class UnitCore extends DurableObject<Env> {
  /** Empties the object (unit-admin.ts); a split's old shard calls it once its keys have all moved. */
  abstract destroy(caller: AdminCaller): Promise<{ name: string } | Failure>;

  protected readonly state: UnitState;
  protected readonly sql: Sql;
  protected readonly config: ConfigStore;
  protected readonly records: RecordStore;
  protected readonly references: ReferenceStore;
  protected readonly queue: Queue;
  protected readonly fills: Fills;
  protected readonly grants: GrantStore;
  protected readonly guard: Guard;
  protected readonly changes: Changes;
  protected readonly across: AcrossShards;
  protected readonly job: Job;
  /** the object's alarm (not `alarm`: that is the handler the platform calls) */
  protected readonly timer: Alarm;
  protected readonly presence: Presence;
  protected readonly cron: CronTick;
  protected readonly runs: RunControl;
  protected readonly metrics: Metrics;
  protected readonly split: Split;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
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
      peer: (unit, index) => this.peer(unit, index),
      destroy: () => this.destroy(ADMIN),
      rearm: () => this.job.rearm(),
    });
    void this.state.blockConcurrencyWhile(async () => {
      if (hasSchema(this.sql)) migrate(this.sql);
      // one live instance per object: what is assigned now was claimed by runs that died with the last one
      const released = this.job.releaseDeadRuns();
      // a unit that wakes with due work and no alarm re-arms itself (and at once for what was just released)
      if (released || (this.config.get() && (await this.timer.stored()) === null)) await this.job.rearm();
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

  // ── internals ────────────────────────────────────────────────────────────

  /** Shard `index` of the unit `unit`, by RPC. */
  protected peer(unit: string, index: number): Peer {
    return siblingsOf(this.env, unit).shard(index);
  }

  protected hasWork(): boolean {
    return this.fills.active() || this.references.waiting() || this.queue.nextWake() !== undefined;
  }

  /**
   * A client's write of one key: applied in one transaction with what it sets in motion, then
   * the job is told. During a split, a key that has moved is written on its new shard (`forward`).
   */
  protected async write(
    caller: Caller,
    key: string,
    apply: () => { changed: string[] } | Failure,
    forward: (peer: Peer, caller: Caller) => Promise<{ ok: true } | Failure>,
  ): Promise<{ ok: true } | Failure> {
    return this.guard.withUnit(caller, "write", async (unit) => {
      // where the key is and the write itself are one synchronous step: a move step cannot fall between them
      const place = this.split.placeOf(key);
      if (place === "elsewhere") return moved(unit.layout);
      if (place !== "here") return forward(this.split.peer(place), unrouted(caller));
      const result = this.sql.transaction(() => {
        const outcome = apply();
        if (!("error" in outcome)) this.changes.changed(unit, key, outcome.changed, 0);
        return outcome;
      });
      if ("error" in result) return result;
      await this.afterEnqueue();
      return { ok: true as const };
    });
  }

  /**
   * After anything that may have queued work: queue the first referrers of what changed (one
   * bounded step, those on other shards by a call to theirs: a small fan-out shows in the
   * status at once, a large one is left to the job), arm the alarm and make sure the cron
   * visits this unit.
   */
  protected async afterEnqueue(referrers = true): Promise<void> {
    // a shard unreachable now leaves its part to the job, which tries again; what was written stays written
    const step = referrers ? this.across.step() : undefined;
    if (typeof step === "object") await step.catch(() => undefined);
    // a step that did not wait has just read the outboxes: the re-arm takes its answer rather than read them again
    await this.job.rearm(typeof step === "boolean" ? step : undefined);
    // the check for work (a read of the fills, the outboxes and the queue) decides only the listing: skipped once listed
    if (!this.presence.isListed && this.hasWork()) this.presence.noteActivity();
  }
}
