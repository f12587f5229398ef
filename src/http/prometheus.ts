/**
 * The Prometheus text exposition format (version 0.0.4) of the units' metrics (API.md,
 * "Runs, progress and metrics"): one HELP and one TYPE line per metric, then one sample a
 * line, `name{labels} value`. Pure: the route gathers the figures (routes/metrics.ts).
 */
import type { UnitMetrics } from "../unit/metrics";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Family = { name: string; type: "gauge" | "counter" | "histogram"; help: string; samples: (unit: string, m: UnitMetrics) => string[] };

const label = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const sample = (name: string, labels: Record<string, string>, value: number) =>
  `${name}{${Object.entries(labels)
    .map(([key, v]) => `${key}="${label(v)}"`)
    .join(",")}} ${Number.isFinite(value) ? value : 0}`;

const FAMILIES: Family[] = [
  {
    name: "restage_records",
    type: "gauge",
    help: "Live records (keys with at least one scope) in the unit.",
    samples: (unit, m) => [sample("restage_records", { unit }, m.records)],
  },
  {
    name: "restage_queue_items",
    type: "gauge",
    help: "Items in the unit's reprocess queue, by state.",
    samples: (unit, m) => (["pending", "assigned", "failed"] as const).map((state) => sample("restage_queue_items", { unit, state }, m[state])),
  },
  {
    name: "restage_items_processed_total",
    type: "counter",
    help: "Queue items completed since the unit was created.",
    samples: (unit, m) => [sample("restage_items_processed_total", { unit }, m.processedTotal)],
  },
  {
    name: "restage_items_failed_total",
    type: "counter",
    help: "Queue items that used up maxAttempts.",
    samples: (unit, m) => [sample("restage_items_failed_total", { unit }, m.failedTotal)],
  },
  {
    name: "restage_batches_total",
    type: "counter",
    help: "Batches the unit's job has run.",
    samples: (unit, m) => [sample("restage_batches_total", { unit }, m.batchesTotal)],
  },
  {
    name: "restage_batch_duration_seconds",
    type: "histogram",
    help: "How long one batch took through its pipeline.",
    samples: (unit, m) => [
      ...m.batchDurationBuckets.map((bucket) => sample("restage_batch_duration_seconds_bucket", { unit, le: String(bucket.le) }, bucket.count)),
      sample("restage_batch_duration_seconds_bucket", { unit, le: "+Inf" }, m.batchesTotal),
      sample("restage_batch_duration_seconds_sum", { unit }, m.batchDurationSum),
      sample("restage_batch_duration_seconds_count", { unit }, m.batchesTotal),
    ],
  },
];

/**
 * The exposition of every unit's metrics, one family after the other.
 * @example renderMetrics([{ unit: "docs", metrics }]) // "# HELP restage_records ...\n# TYPE restage_records gauge\nrestage_records{unit=\"docs\"} 12\n..."
 */
export function renderMetrics(units: Array<{ unit: string; metrics: UnitMetrics }>): string {
  const lines: string[] = [];
  for (const family of FAMILIES) {
    lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
    for (const { unit, metrics } of units) lines.push(...family.samples(unit, metrics));
  }
  return `${lines.join("\n")}\n`;
}

/**
 * One unit's metrics from those of its shards: every figure summed (the buckets bound by bound).
 * @example sumMetrics([shard0, shard1]).records // the unit's records
 */
export function sumMetrics(parts: UnitMetrics[]): UnitMetrics {
  const add = (field: Exclude<keyof UnitMetrics, "batchDurationBuckets">) => parts.reduce((sum, part) => sum + part[field], 0);
  return {
    records: add("records"),
    pending: add("pending"),
    assigned: add("assigned"),
    failed: add("failed"),
    processedTotal: add("processedTotal"),
    failedTotal: add("failedTotal"),
    batchesTotal: add("batchesTotal"),
    batchDurationSum: add("batchDurationSum"),
    batchDurationBuckets: (parts[0]?.batchDurationBuckets ?? []).map((bucket, i) => ({
      le: bucket.le,
      count: parts.reduce((sum, part) => sum + (part.batchDurationBuckets[i]?.count ?? 0), 0),
    })),
  };
}
