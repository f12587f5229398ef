/**
 * The job's counters for `GET /metrics`: owns tables `job_metrics` (one row: batches run,
 * items failed for good, the sum of batch durations) and `batch_durations` (the cumulative
 * histogram buckets, one row per upper bound in seconds). Written once per batch, durable,
 * so a scrape after a restart sees counters that never went back.
 */
import type { Sql } from "./sql";

/** One shard's metrics: what the route sums over shards and prints (routes/metrics.ts). */
export interface UnitMetrics {
  records: number;
  pending: number;
  assigned: number;
  failed: number;
  processedTotal: number;
  failedTotal: number;
  batchesTotal: number;
  batchDurationSum: number;
  /** cumulative counts of batches at or under each bound (seconds), in bound order; +Inf is `batchesTotal` */
  batchDurationBuckets: Array<{ le: number; count: number }>;
}

export type JobCounters = Omit<UnitMetrics, "records" | "pending" | "assigned" | "failed" | "processedTotal">;

export class Metrics {
  constructor(private readonly sql: Sql) {}

  /** One batch ran for `ms` and `failed` of its items failed for good. */
  recordBatch(ms: number, failed: number): void {
    const seconds = ms / 1000;
    this.sql.exec("UPDATE job_metrics SET batches = batches + 1, failed = failed + ?, duration_sum = duration_sum + ? WHERE id = 1", failed, seconds);
    this.sql.exec("UPDATE batch_durations SET n = n + 1 WHERE le >= ?", seconds);
  }

  /** Items failed for good outside a batch (their lease ran out). */
  recordFailed(failed: number): void {
    if (failed > 0) this.sql.exec("UPDATE job_metrics SET failed = failed + ? WHERE id = 1", failed);
  }

  read(): JobCounters {
    const row = this.sql.first<{ batches: number; failed: number; duration_sum: number }>(
      "SELECT batches, failed, duration_sum FROM job_metrics WHERE id = 1",
    );
    const buckets = this.sql.all<{ le: number; n: number }>("SELECT le, n FROM batch_durations ORDER BY le");
    return {
      failedTotal: row?.failed ?? 0,
      batchesTotal: row?.batches ?? 0,
      batchDurationSum: row?.duration_sum ?? 0,
      batchDurationBuckets: buckets.map((bucket) => ({ le: bucket.le, count: bucket.n })),
    };
  }
}
