/**
 * `GET /metrics` (API.md, "Runs, progress and metrics"): Prometheus text for every unit,
 * admin token only; its counters move as the job runs.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, createUnit, unitStub } from "./helpers";
import { addMany, drain, setPipelines } from "./queue-helpers";
import { createUser, grant } from "./security-helpers";
import { captureLogs } from "./support/logs";

const FAMILIES = {
  restage_records: "gauge",
  restage_queue_items: "gauge",
  restage_items_processed_total: "counter",
  restage_items_failed_total: "counter",
  restage_batches_total: "counter",
  restage_batch_duration_seconds: "histogram",
};

/** Parses the exposition, failing on any line that is not HELP, TYPE or `name{labels} value`. */
function parse(text: string): { types: Record<string, string>; samples: Array<{ name: string; labels: Record<string, string>; value: number }> } {
  const types: Record<string, string> = {};
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  expect(text.endsWith("\n")).toBe(true);
  for (const line of text.trimEnd().split("\n")) {
    const type = line.match(/^# TYPE ([a-z_]+) (gauge|counter|histogram)$/);
    if (type) {
      types[type[1]!] = type[2]!;
      continue;
    }
    if (/^# HELP [a-z_]+ .+$/.test(line)) continue;
    const sample = line.match(/^([a-z_]+)\{((?:[a-z]+="[^"]*",?)*)\} (-?[0-9.e+-]+)$/);
    expect(sample, `not a sample line: ${line}`).not.toBeNull();
    const labels = Object.fromEntries([...sample![2]!.matchAll(/([a-z]+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    samples.push({ name: sample![1]!, labels, value: Number(sample![3]) });
  }
  return { types, samples };
}

async function metricsOf(unit: string) {
  const answer = await fetchMetrics();
  expect(answer.status).toBe(200);
  expect(answer.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  const { types, samples } = parse(String(answer.body));
  expect(types).toEqual(FAMILIES);
  const mine = samples.filter((s) => s.labels.unit === unit);
  const value = (name: string, labels: Record<string, string> = {}) =>
    mine.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
  return { value, mine };
}

const fetchMetrics = (token?: string | null) => call("GET", "/metrics", undefined, { token });

describe("GET /metrics", () => {
  it("gives every unit's gauges, counters and batch histogram, which move after a run", async () => {
    const unit = await createUnit({ reprocessingQueue: true, contentProcessing: false });
    await setPipelines(unit, { raw: [{ module: "Fault", settings: { failKeys: ["k000001"] } }] });
    await call("PUT", `/admin/setReprocessingSettings/${unit}`, { maxAttempts: 1, batchSize: 5 });
    await addMany(unit, "raw", 20);

    const before = await metricsOf(unit);
    expect(before.value("restage_records")).toBe(20);
    expect(before.value("restage_queue_items", { state: "pending" })).toBe(0);
    expect(before.value("restage_items_processed_total")).toBe(0);
    expect(before.value("restage_batches_total")).toBe(0);
    expect(before.value("restage_batch_duration_seconds_bucket", { le: "+Inf" })).toBe(0);

    await call("POST", `/reprocess/all/${unit}/raw`);
    await drain(unit);
    const after = await metricsOf(unit);
    expect(after.value("restage_items_processed_total")).toBe(19);
    expect(after.value("restage_items_failed_total")).toBe(1);
    expect(after.value("restage_queue_items", { state: "failed" })).toBe(1);
    expect(after.value("restage_queue_items", { state: "assigned" })).toBe(0);
    const batches = after.value("restage_batches_total")!;
    expect(batches).toBeGreaterThanOrEqual(4);
    expect(after.value("restage_batch_duration_seconds_count")).toBe(batches);
    expect(after.value("restage_batch_duration_seconds_bucket", { le: "+Inf" })).toBe(batches);
    expect(after.value("restage_batch_duration_seconds_sum")).toBeGreaterThanOrEqual(0);
    // cumulative buckets: never fewer under a higher bound
    const buckets = after.mine.filter((s) => s.name === "restage_batch_duration_seconds_bucket").map((s) => s.value);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
  });

  it("leaves out, and logs, a unit that cannot answer, and still gives every other unit", async () => {
    const healthy = await createUnit();
    await addMany(healthy, "raw", 3);
    const broken = await createUnit();
    await addMany(broken, "raw", 3);
    // a broken database stands for any bug inside the unit's Durable Object
    await runInDurableObject(unitStub(broken), async (_instance, state) => {
      state.storage.sql.exec("DROP TABLE records");
    });
    const logs = captureLogs();
    const scrape = await metricsOf(healthy);
    expect(scrape.value("restage_records")).toBe(3);
    expect((await metricsOf(broken)).mine).toEqual([]);
    expect(logs.of("metrics-unit-failed")).toContainEqual(expect.objectContaining({ unit: broken, error: expect.stringContaining("no such table") }));
  });

  it("needs the admin token", async () => {
    const unit = await createUnit();
    const user = await createUser();
    await grant("rw", user.name, unit);
    const refused = await fetchMetrics(user.token);
    expect(refused.status).toBe(403);
    expect(refused.body.message).toBe("FORBIDDEN");
    expect((await fetchMetrics(null)).status).toBe(401);
  });
});
