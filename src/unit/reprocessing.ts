/**
 * The reprocess queue as the routes drive it on this shard: queue keys or a run, reset,
 * retry and purge, and the figures the status and metrics show. Whatever may have queued
 * work ends by telling the job (unit-parts.ts, `afterEnqueue`; `afterQueued` where only
 * queue items were added here, which re-arms without reading the unit again).
 */
import { isFailure, type Failure } from "../errors";
import { sum } from "../routing/key-order";
import type { Alarm } from "./alarm";
import type { UnitStatus } from "./answers";
import type { ConfigStore, UnitConfig } from "./config";
import type { Fills } from "./fills";
import type { Caller } from "./grants";
import type { RoutedCall } from "../routing/router";
import type { Job } from "./job";
import type { Metrics, UnitMetrics } from "./metrics";
import { unconfiguredScope } from "./pipeline-scope";
import type { Queue } from "./queue";
import type { RecordStore } from "./records";
import type { ReferenceStore } from "./references";
import type { RunControl, RunFilter, RunRequest } from "./run-control";
import type { Split } from "./split";
import { acrossSplit } from "./split-forward";
import type { Sql } from "./sql";

export interface ReprocessingHost {
  sql: Sql;
  config: ConfigStore;
  records: RecordStore;
  references: ReferenceStore;
  queue: Queue;
  fills: Fills;
  runs: RunControl;
  metrics: Metrics;
  job: Job;
  timer: Alarm;
  split: Split;
  afterEnqueue(): Promise<void>;
  afterQueued(queued: number): Promise<void>;
}

export class Reprocessing {
  constructor(private readonly host: ReprocessingHost) {}

  /** Queues `keys` of `scope` that have a record; those a split has moved on are queued on their new shards. */
  async keys(unit: UnitConfig, call: RoutedCall<Caller>, scope: string, keys: string[]): Promise<{ queued: number; missing: string[] } | Failure> {
    const refused = unconfiguredScope(unit, scope);
    if (refused) return refused;
    const { records, queue, split } = this.host;
    let queuedHere = 0;
    const parts = await acrossSplit(
      split,
      [...new Set(keys)],
      (here) => {
        const existing = records.existing(scope, here);
        const found = here.filter((key) => existing.has(key));
        queue.enqueue(scope, found);
        queuedHere = found.length;
        return { queued: found.length, missing: here.filter((key) => !existing.has(key)) };
      },
      (peer, gone) => peer.reprocessKeys(call, scope, gone),
    );
    if (isFailure(parts)) return parts;
    await this.host.afterQueued(queuedHere);
    return { queued: sum(parts.map((part) => part.queued)), missing: parts.flatMap((part) => part.missing) };
  }

  /** Starts this shard's share of the run `run.runId` (run-control.ts). */
  async all(unit: UnitConfig, scope: string, filter: RunFilter, run: RunRequest): Promise<{ queued: number } | Failure> {
    const refused = unconfiguredScope(unit, scope);
    if (refused) return refused;
    const started = this.host.runs.start(scope, filter, run);
    await this.host.afterEnqueue();
    return started;
  }

  async reset(): Promise<{ unassigned: number }> {
    const unassigned = this.host.queue.reset();
    await this.host.afterEnqueue();
    return { unassigned };
  }

  /** Failed items back to pending: all of them, or those of `keys` (on their new shards, for keys a split has moved on). */
  async retryFailed(call: RoutedCall<Caller>, keys?: string[]): Promise<{ requeued: number } | Failure> {
    const { queue, split } = this.host;
    const parts =
      keys === undefined
        ? [{ requeued: queue.retryFailed() }]
        : await acrossSplit(
            split,
            keys,
            (here) => ({ requeued: queue.retryFailed(here) }),
            (peer, gone) => peer.retryFailed(call, gone),
          );
    if (isFailure(parts)) return parts;
    await this.host.afterEnqueue();
    return { requeued: sum(parts.map((part) => part.requeued)) };
  }

  /** Drops what is pending, the fills and the referrers still to queue: nothing of it runs. */
  async purge(): Promise<{ purged: number }> {
    const { sql, fills, references, queue, job } = this.host;
    const purged = sql.transaction(() => {
      fills.clear();
      references.clearOutbox();
      return queue.purgePending();
    });
    await job.rearm();
    return { purged };
  }

  async setPaused(paused: boolean): Promise<{ ok: true }> {
    this.host.config.update({ paused });
    await this.host.job.rearm();
    return { ok: true };
  }

  async status(checked: UnitConfig): Promise<UnitStatus> {
    const { config, fills, queue, runs, job, split } = this.host;
    const alarm = await this.host.timer.stored();
    // every figure is read after the last await, so they come from one moment and add up
    const unit = config.get() ?? checked;
    return {
      enabled: unit.reprocessingQueue,
      paused: unit.paused,
      filling: fills.active(),
      fillRemaining: fills.remaining(),
      ...queue.counts(),
      itemsPerSecond: runs.unitRate(),
      processed: unit.processed,
      // while the job runs, its next run is now
      nextRunAt: job.busy ? new Date().toISOString() : alarm === null ? null : new Date(alarm).toISOString(),
      lastError: unit.lastError,
      splitting: split.progress(unit),
    };
  }

  metrics(unit: UnitConfig): UnitMetrics {
    return { records: this.host.records.count(), processedTotal: unit.processed, ...this.host.queue.counts(), ...this.host.metrics.read() };
  }
}
