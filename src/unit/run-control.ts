/**
 * Runs on this shard, end to end: starting one (its fill, the run it replaces), cancelling
 * one, and what each finished batch leaves behind (rates, job metrics, run states). The
 * StorageUnit's run methods delegate here; every method works on this shard's share only,
 * the route layer combining shards (runs.ts, `combineRuns`).
 */
import { failure, type Failure } from "../errors";
import type { Fills } from "./fills";
import type { Metrics } from "./metrics";
import type { Queue } from "./queue";
import type { Finished } from "./queue-counters";
import { UNIT, type Rates } from "./rates";
import type { RunStore } from "./run-store";
import type { RunPart, RunTrigger } from "./runs";

/** Which records a run reaches, beyond its scope: keys starting with `prefix`, scopes written at or after `since` (ms). */
export type RunFilter = { prefix?: string; since?: number };

export interface RunRequest {
  /** made by the caller, so every shard files its share under the same id */
  runId: string;
  trigger: RunTrigger;
}

export interface RunControlParts {
  queue: Pick<Queue, "dropRun">;
  fills: Pick<Fills, "count" | "start" | "lay" | "runOf" | "stop">;
  runs: RunStore;
  rates: Pick<Rates, "record" | "perSecond">;
  metrics: Pick<Metrics, "recordBatch" | "recordFailed">;
  /** whether the unit is splitting, as this shard knows it (split.ts) */
  splitting(): boolean;
}

export class RunControl {
  constructor(private readonly parts: RunControlParts) {}

  /**
   * Starts the run of a `reprocess/all`: counts the keys it reaches, ends as replaced the run
   * still filling with the same filter, and queues the first chunk (fills.ts). While the unit
   * splits, it queues nothing and lays its fill at the start of the store instead
   * (`Fills.lay`): that fill reaches this shard's keys wherever they are once the split ends.
   */
  start(scope: string, filter: RunFilter, request: RunRequest, now = Date.now()): { queued: number } {
    const { fills, runs } = this.parts;
    const target = { scope, ...filter };
    if (runs.seqOf(request.runId) !== undefined) {
      // said again; or a split's batch brought the run here before this shard's own start
      // (shards start a run in any order): the shard that sent it reaches every key it sent
      // (split-runs.ts), so this start replaces nothing and queues nothing
      runs.settle(now);
      return { queued: 0 };
    }
    const total = fills.count(target);
    const replaced = fills.runOf(target);
    if (replaced !== undefined && replaced !== null) runs.end(replaced, "replaced", now);
    const seq = runs.start({ id: request.runId, scope, ...filter, trigger: request.trigger, total }, now);
    if (this.parts.splitting()) fills.lay(target, total, seq);
    // a fill of the same filter is replaced even when nothing matches any more
    else if (total > 0 || replaced !== undefined) fills.start(target, total, 0, seq);
    runs.settle(now);
    return { queued: total };
  }

  /** Stops a run: its fill ends, its pending items leave the queue, its running batches finish. */
  cancel(runId: string, now = Date.now()): { dropped: number } | Failure {
    const seq = this.parts.runs.seqOf(runId);
    if (seq === undefined) return runNotFound(runId);
    const unfilled = this.parts.fills.stop(seq);
    const dropped = this.parts.queue.dropRun(seq) + unfilled;
    this.parts.runs.end(seq, "cancelled", now);
    return { dropped };
  }

  part(runId: string): RunPart | Failure {
    this.parts.runs.settle();
    return this.parts.runs.part(runId) ?? runNotFound(runId);
  }

  list(limit: number): RunPart[] {
    this.parts.runs.settle();
    return this.parts.runs.list(limit);
  }

  /** The unit's items per second over the last minute. */
  unitRate(): number {
    return this.parts.rates.perSecond(UNIT);
  }

  /** A batch ended after `ms`: `processed` items completed, and these left the queue, by run. */
  batchDone(ms: number, processed: number, finished: Finished, now = Date.now()): void {
    let failed = 0;
    for (const counts of finished.values()) failed += counts.failed;
    this.parts.metrics.recordBatch(ms, failed);
    this.itemsDone(processed + failed, finished, now);
  }

  /** Items failed for good when their lease ran out. */
  leasesExpired(finished: Finished, now = Date.now()): void {
    let failed = 0;
    for (const counts of finished.values()) failed += counts.failed;
    if (failed === 0) return;
    this.parts.metrics.recordFailed(failed);
    this.itemsDone(failed, finished, now);
  }

  private itemsDone(unitCount: number, finished: Finished, now: number): void {
    const counts = new Map<number, number>([[UNIT, unitCount]]);
    for (const [run, n] of finished) if (run !== UNIT) counts.set(run, n.processed + n.failed);
    this.parts.rates.record(counts, now);
    // only items of a run can end it (a fill that ends with no item left is seen by the next read, which settles too)
    if (counts.size > 1) this.parts.runs.settle(now);
  }
}

export function runNotFound(runId: string): Failure {
  return failure("RUN_NOT_FOUND", `no run '${runId}' in this unit (a unit keeps its last 100 runs); list them with GET /reprocess/runs/<unit>`);
}
