/**
 * The job's structured log lines (API.md, "Runs, progress and metrics"): one per job slice,
 * per failed or slow batch, per run start and end, through the one logger (src/log.ts).
 */
import { describe, expect, it } from "vitest";
import { call, createUnit } from "./helpers";
import { addMany, drain, setPipelines, setSettings } from "./queue-helpers";
import { captureLogs } from "./support/logs";

describe("job logs", () => {
  it("log each slice, each failed or slow batch, and each run's start and end", async () => {
    const logs = captureLogs();
    const unit = await createUnit({ reprocessingQueue: true, contentProcessing: false });
    await setPipelines(unit, { raw: [{ module: "Fault", settings: { failKeys: ["k000003"], stallKeys: ["k000015"], stallMs: 1100 } }] });
    await setSettings(unit, { maxAttempts: 1, batchSize: 10 });
    await addMany(unit, "raw", 20);
    const { runId } = (await call("POST", `/reprocess/all/${unit}/raw`)).body as { runId: string };
    await drain(unit);
    const mine = (event: Parameters<typeof logs.of>[0]) => logs.of(event).filter((entry) => entry.unit === unit);

    expect(mine("run-started")).toEqual([
      { level: "info", event: "run-started", unit, shard: 0, runId, scope: "raw", prefix: null, since: null, trigger: "api", total: 20 },
    ]);
    expect(mine("run-ended")).toEqual([
      { level: "info", event: "run-ended", unit, shard: 0, runId, state: "done", total: 20, processed: 19, failed: 1, ms: expect.any(Number) },
    ]);
    const slices = mine("job-slice");
    expect(slices.length).toBeGreaterThanOrEqual(1);
    for (const slice of slices) expect(slice).toMatchObject({ level: "info", shard: 0, ms: expect.any(Number) });
    expect(slices.reduce((sum, slice) => sum + (slice.items as number), 0)).toBe(20);
    expect(slices.reduce((sum, slice) => sum + (slice.batches as number), 0)).toBe(2);
    expect(slices.reduce((sum, slice) => sum + (slice.failed as number), 0)).toBe(1);
    expect(mine("batch-failed")).toEqual([
      { level: "warn", event: "batch-failed", unit, shard: 0, scope: "raw", items: 10, failed: 1, ms: expect.any(Number), error: "failed on demand" },
    ]);
    const slow = mine("batch-slow");
    expect(slow).toHaveLength(1);
    expect(slow[0]).toMatchObject({ level: "warn", shard: 0, scope: "raw", items: 10 });
    expect(slow[0]!.ms).toBeGreaterThan(1000);
  });
});
