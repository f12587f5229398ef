/**
 * The reprocessing job: what the unit's alarm runs. One `run()` is a time slice in which
 * `workers` concurrent loops each claim a batch under its own lease (due items first, then
 * the next keys of a pending `reprocess/all`) and run it through the scope's pipeline
 * (modules/run-pipeline.ts), while one more loop queues the referrers of changed records
 * from the outbox in bounded steps (references.ts). The slice ends by item count or wall
 * time (the clock only moves across I/O inside Workers), and the job re-arms the alarm for
 * the earliest due item or lease expiry, or at once while the outbox holds changes.
 *
 * Fairness: every loop and every pipeline lane draws on one {@link YieldBudget} (a few
 * ms, or the bytes of documents loaded, read and written) and yields to the event loop
 * with a macrotask once it is used up, so other units (self-hosted: one event loop for
 * all) and this unit's own status, reset and writes get in during a long drain.
 *
 * Each slice logs one `job-slice` line; a batch with failures logs `batch-failed`, one
 * slower than {@link SLOW_BATCH_MS} `batch-slow` (src/log.ts). After each batch the host
 * records its duration and outcome (run-control.ts: rates, metrics, run states).
 *
 * A batch that outlives its lease is abandoned: its result would be discarded anyway
 * (the queue completes items only through their run token), and the worker moves on.
 * While one worker waits on a slow batch, the others keep taking new work as it is
 * queued, rather than leaving it for the next alarm.
 */
import { log } from "../log";
import { createPipeline } from "../modules/pipeline";
import { errorText, Item, runPipeline } from "../modules/run-pipeline";
import type { ModuleInstance, PipelineItem, UnitAccess } from "../modules/types";
import { ITEM_BYTES, YieldBudget } from "../yield-budget";
import type { UnitConfig } from "./config";
import type { Fills } from "./fills";
import { LEASE_EXPIRED, RUN_DIED, type Claim, type Queue } from "./queue";
import type { Finished } from "./queue-counters";
import { REFERRERS_PER_STEP } from "./references";
import { Throttle } from "./throttle";
import { shardIndexes } from "../routing/layout";

/** Items one alarm invocation may run before it yields and re-arms: keeps CPU time well inside the limit. */
const ITEMS_PER_SLICE = 200_000;
/** Wall time of one slice. */
const SLICE_MS = 20_000;
/** A batch is abandoned past this much of a run (its items wait for their lease): an alarm has 15 minutes of wall time. */
const MAX_RUN_MS = 14 * 60_000;
/** A batch slower than this is logged. */
export const SLOW_BATCH_MS = 1000;

export interface JobHost {
  queue: Queue;
  fills: Fills;
  config(): UnitConfig | undefined;
  addProcessed(count: number, lastError?: string): void;
  /** a batch ended after `ms`: `processed` items completed; `finished` left the queue, by run */
  batchDone(ms: number, processed: number, finished: Finished): void;
  /** items whose lease ran out and that failed for good */
  leasesExpired(finished: Finished): void;
  env: Record<string, unknown>;
  /** what the modules of a batch may do to the unit created at `createdAt` (nothing, once it is deleted); their reads and writes count towards `budget` */
  unitAccess(createdAt: number, budget: YieldBudget): UnitAccess;
  /** one step of the references' outboxes (see across-shards.ts); returns whether work is left (a promise only when shards are called) */
  queueReferrers(): boolean | Promise<boolean>;
  /** whether the referrer outbox holds changes */
  referrersWaiting(): boolean;
  setAlarm(at: number | null): Promise<void>;
  /** the alarm as this object last set it (null: none; undefined: not known) */
  alarmSet(): number | null | undefined;
  /** when a split needs the alarm (split.ts), if it does */
  splitWake(): number | undefined;
}

export class Job {
  private throttle: Throttle | undefined;
  /** alarm runs in progress */
  private runs = 0;
  /** batches of the current run in flight */
  private running = 0;
  /** whether the run's referrer loop is still queuing referrers (idle workers wait for them) */
  private following = false;
  /** the work done since the job last yielded to the event loop, shared by all its loops */
  private readonly budget = new YieldBudget();
  /** idle workers waiting for new work or for a busy sibling to finish */
  private waiters: Array<() => void> = [];

  constructor(private readonly host: JobHost) {}

  /** Whether a run is going on now: the platform shows no alarm while its handler runs. */
  get busy(): boolean {
    return this.runs > 0;
  }

  async run(): Promise<void> {
    const config = this.host.config();
    if (!config) return this.host.setAlarm(null);
    const start = Date.now();
    const slice: Slice = { deadline: start + SLICE_MS, giveUpAt: start + MAX_RUN_MS, itemsLeft: ITEMS_PER_SLICE, batches: 0, items: 0, failed: 0 };
    this.expireLeases(config.settings.maxAttempts);
    const loops: Promise<void>[] = [];
    loops.push(this.followReferrers(slice));
    for (let i = 0; i < config.settings.workers; i++) loops.push(this.work(slice));
    this.runs++;
    // every worker ends before the run does, so a failing one never leaves a batch running unseen
    const outcomes = await Promise.allSettled(loops);
    this.runs--;
    const { batches, items } = slice;
    log("info", "job-slice", { unit: config.name, shard: config.shard, batches, items, failed: slice.failed, ms: Date.now() - start });
    await this.rearm();
    const failed = outcomes.find((outcome) => outcome.status === "rejected");
    if (failed) throw failed.reason;
  }

  /**
   * {@link rearm} after items due now were queued and nothing else changed (keys to reprocess,
   * referrers sent by another shard), reading nothing when it can: an alarm this object has
   * set no later than now stands, since the job it runs re-arms for what follows. A paused
   * unit re-arms in full: its alarm is for its leases, which pending items do not move, but
   * it may not have been set for them yet.
   */
  async armForQueued(): Promise<void> {
    if (this.host.config()?.paused) return this.rearm();
    const at = this.host.alarmSet();
    if (typeof at === "number" && at <= Date.now()) return this.wakeIdle();
    return this.rearm();
  }

  /**
   * Sets the alarm for the next thing to do, or clears it when there is nothing.
   * `referrersWaiting`: whether the outboxes hold work, when the caller has just read them.
   */
  async rearm(referrersWaiting?: boolean): Promise<void> {
    // whatever changed (new items, a reset, a resume) may be work for idle workers of a running slice
    this.wakeIdle();
    const config = this.host.config();
    if (!config) return this.host.setAlarm(null);
    const now = Date.now();
    // queuing referrers is not processing: a paused unit follows its changes too, so its pending count is whole
    if (referrersWaiting ?? this.host.referrersWaiting()) return this.host.setAlarm(now);
    // fills stand still while the unit splits (split.ts)
    if (!config.paused && config.layout.splitTo === null && this.host.fills.active()) return this.host.setAlarm(now);
    const next = config.paused ? this.host.queue.nextLeaseExpiry() : this.host.queue.nextWake();
    const split = this.host.splitWake();
    if (split !== undefined && (next === undefined || split <= next)) return this.host.setAlarm(split);
    if (next === undefined) return this.host.setAlarm(null);
    const throttled = this.throttle && config.settings.maxItemsPerSecond ? now + this.throttle.delayUntilNextToken() : now;
    return this.host.setAlarm(Math.max(next, throttled));
  }

  private async work(slice: Slice): Promise<void> {
    while (Date.now() < slice.deadline && slice.itemsLeft > 0) {
      const config = this.host.config();
      if (!config || config.paused) return;
      const { settings } = config;
      const limit = Math.min(settings.batchSize, slice.itemsLeft);
      // the rate is the unit's: each of its objects takes an even share
      const rate = settings.maxItemsPerSecond && settings.maxItemsPerSecond / shardIndexes(config.layout).length;
      const granted = rate ? await this.throttleFor(rate).take(limit, slice.deadline) : limit;
      // the unit may have been paused (or deleted, or changed) while this worker waited for the throttle
      const current = this.host.config();
      if (granted === 0 || !current || current.paused) return;
      this.expireLeases(current.settings.maxAttempts);
      const claim =
        this.host.queue.claim(granted, current.settings.leaseMs) ??
        (current.layout.splitTo === null ? this.host.fills.claim(granted, current.settings.leaseMs) : undefined);
      if (!claim) {
        if (this.running > 0 || this.following) await this.idle(slice.deadline);
        else return;
        continue;
      }
      if (claim.items.length > 0) {
        slice.itemsLeft -= claim.items.length;
        this.running++;
        try {
          await this.runBatch(claim, current, slice);
        } finally {
          this.running--;
          this.wakeIdle();
        }
      }
      // a pipeline that never waits on I/O would otherwise hold the object (self-hosted: every unit) for the whole slice
      for (let wait = this.budget.ready(); wait; wait = this.budget.ready()) await wait;
    }
  }

  /** Queues the referrers of changed records, a bounded step at a time, each step counted in the budget like a batch. */
  private async followReferrers(slice: Slice): Promise<void> {
    this.following = true;
    try {
      while (Date.now() < slice.deadline) {
        const left = this.host.queueReferrers();
        if (!(typeof left === "boolean" ? left : await left)) break;
        this.wakeIdle();
        this.budget.count(REFERRERS_PER_STEP * ITEM_BYTES);
        for (let wait = this.budget.ready(); wait; wait = this.budget.ready()) await wait;
      }
    } finally {
      this.following = false;
      this.wakeIdle();
    }
  }

  /**
   * As the unit's instance starts: the runs of the previous instance died with it (API.md,
   * "Queue semantics"), so their items are due at once rather than after their lease. Call it
   * before any event of the new instance can claim work, and before the alarm is trusted.
   * Returns whether any item was released.
   */
  releaseDeadRuns(): boolean {
    const config = this.host.config();
    if (!config) return false;
    return this.released(this.host.queue.releaseDeadRuns(config.settings.maxAttempts), RUN_DIED);
  }

  /** Expired leases put their items back (or fail them); the unit's lastError says so. */
  private expireLeases(maxAttempts: number): void {
    this.released(this.host.queue.expireLeases(maxAttempts), LEASE_EXPIRED);
  }

  private released({ expired, finished }: { expired: number; finished: Finished }, reason: string): boolean {
    if (expired === 0) return false;
    this.host.addProcessed(0, `${expired} item(s): ${reason}`);
    this.host.leasesExpired(finished);
    return true;
  }

  /** Waits until something may be due (see {@link wakeIdle}) or the slice ends. */
  private idle(deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private wakeIdle(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private throttleFor(rate: number): Throttle {
    if (!this.throttle) this.throttle = new Throttle(rate);
    this.throttle.setRate(rate);
    return this.throttle;
  }

  /**
   * Runs one claimed batch through its pipeline and records the outcome under the claim's
   * token. `config` is the unit's as it was at the claim: should the unit be deleted (and
   * maybe created again) meanwhile, the modules' writes are refused and the result dropped.
   */
  private async runBatch(claim: Claim, config: UnitConfig, slice: Slice): Promise<void> {
    const { settings } = config;
    const started = Date.now();
    let pipeline: ModuleInstance[] = [];
    let batchError: string | undefined;
    try {
      pipeline = createPipeline(config.modules, claim.scope, {
        unitName: config.name,
        env: this.host.env,
        unit: this.host.unitAccess(config.createdAt, this.budget),
      });
    } catch (error) {
      // a module no longer registered, or settings stored before their schema changed: the batch fails with why
      batchError = errorText(error);
    }
    // a scope with no pipeline: its items complete at once
    const items = pipeline.length > 0 ? this.loadItems(claim) : [];
    if (pipeline.length > 0) {
      const outcome = await withTimeout(
        runPipeline(pipeline, items, settings.concurrency, this.budget),
        Math.min(claim.leaseUntil, slice.giveUpAt) - Date.now(),
      );
      if (outcome === "timeout") return; // lease gone: the items are due again, this result would not count
      if (outcome !== undefined) batchError = errorText(outcome);
    }
    // its items went with the unit; a unit created again under the name has its own queue and counts
    if (this.host.config()?.createdAt !== config.createdAt) return;
    const failures = new Map<string, string>();
    if (batchError !== undefined) for (const { key } of claim.items) failures.set(key, batchError.slice(0, 2000));
    else for (const item of items) if (item.failure !== undefined) failures.set(item.key, item.failure.slice(0, 2000));
    const { processed, finished } = this.host.queue.complete(claim, failures, settings);
    const lastError = batchError ?? [...failures.values()][0];
    this.host.addProcessed(processed, lastError === undefined ? undefined : `${claim.scope}: ${lastError}`);
    const ms = Date.now() - started;
    this.host.batchDone(ms, processed, finished);
    slice.batches++;
    slice.items += claim.items.length;
    slice.failed += failures.size;
    const about = { unit: config.name, shard: config.shard, scope: claim.scope, items: claim.items.length, ms };
    if (lastError !== undefined) log("warn", "batch-failed", { ...about, failed: failures.size, error: lastError.slice(0, 500) });
    if (ms > SLOW_BATCH_MS) log("warn", "batch-slow", about);
  }

  private loadItems(claim: Claim): PipelineItem[] {
    this.host.queue.load(claim);
    let bytes = 0;
    for (const item of claim.items) bytes += item.content?.length ?? 0;
    this.budget.count(bytes);
    return claim.items.map((item) => new Item(claim.scope, item));
  }
}

interface Slice {
  deadline: number;
  /** past this, a batch still running is abandoned */
  giveUpAt: number;
  itemsLeft: number;
  /** what the slice did, for its log line */
  batches: number;
  items: number;
  /** item failures (attempts that failed, whether retried or not) */
  failed: number;
}

/** The work's outcome: undefined on success, its error, or "timeout" when `ms` passed first. */
async function withTimeout(work: Promise<void>, ms: number): Promise<Error | "timeout" | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), Math.max(0, ms));
  });
  try {
    return await Promise.race([
      work.then(
        () => undefined,
        (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
      ),
      timeout,
    ]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
