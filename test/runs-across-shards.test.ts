/**
 * A run on a unit of 8 shards (API.md, "Runs, progress and metrics": "On a sharded unit a
 * run spans every shard"): one id, counts summed over the shards, one cancel for all of them.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, createUnit } from "./helpers";
import { addMany, setPipelines, waitFor } from "./queue-helpers";
import { shardName } from "../src/routing/layout";

const SHARDS = 8;

async function shardedUnitWith(records: number): Promise<string> {
  const unit = await createUnit({ reprocessingQueue: true, contentProcessing: false, shards: SHARDS });
  await setPipelines(unit, { raw: [{ module: "Noop", settings: {} }] });
  await addMany(unit, "raw", records);
  return unit;
}

/** Runs every shard's alarm until the run is done. */
async function drainRun(unit: string, runId: string) {
  return waitFor(async () => {
    for (let shard = 0; shard < SHARDS; shard++) await runDurableObjectAlarm(env.STORAGE_UNIT.getByName(shardName(unit, shard)));
    const { body } = await call("GET", `/reprocess/run/${unit}/${runId}`);
    return body.run?.state === "done" ? body.run : undefined;
  }, `run ${runId} to be done`);
}

describe("a run on a unit of 8 shards", () => {
  it("has one id, and counts over every shard", async () => {
    const unit = await shardedUnitWith(400);
    const started = await call("POST", `/reprocess/all/${unit}/raw`);
    expect(started.body).toMatchObject({ message: "OK", queued: 400 });
    const run = await drainRun(unit, started.body.runId);
    expect(run).toMatchObject({ id: started.body.runId, total: 400, processed: 400, failed: 0, state: "done", etaSeconds: null });
    const runs = await call("GET", `/reprocess/runs/${unit}`);
    expect(runs.body.runs).toHaveLength(1);
    expect(runs.body.runs[0]).toMatchObject({ id: started.body.runId, total: 400, processed: 400 });
    const status = await call("GET", `/reprocess/status/${unit}`);
    expect(status.body).toMatchObject({ pending: 0, assigned: 0, processed: 400 });
    const info = await call("GET", `/admin/getStorageUnit/${unit}`);
    const shardsWithWork = info.body.storageUnit.shardStats.filter((shard: { records: number }) => shard.records > 0);
    expect(shardsWithWork.length).toBe(SHARDS);
  });

  it("is cancelled on every shard at once", async () => {
    const unit = await shardedUnitWith(300);
    expect((await call("PUT", `/reprocess/pause/${unit}`)).status).toBe(200);
    const started = await call("POST", `/reprocess/all/${unit}/raw`);
    const cancelled = await call("POST", `/reprocess/cancel/${unit}/${started.body.runId}`);
    expect(cancelled.body).toEqual({ message: "OK", dropped: 300 });
    const run = await call("GET", `/reprocess/run/${unit}/${started.body.runId}`);
    expect(run.body.run).toMatchObject({ state: "cancelled", total: 300, processed: 0 });
    const status = await call("GET", `/reprocess/status/${unit}`);
    expect(status.body).toMatchObject({ pending: 0, assigned: 0, fillRemaining: 0 });
    expect((await call("POST", `/reprocess/cancel/${unit}/no-such-run`)).body.message).toBe("RUN_NOT_FOUND");
    expect((await call("GET", `/reprocess/run/${unit}/no-such-run`)).status).toBe(404);
  });

  it("sums every shard's counters in /metrics", async () => {
    const unit = await shardedUnitWith(80);
    const started = await call("POST", `/reprocess/all/${unit}/raw`);
    await drainRun(unit, started.body.runId);
    const metrics = await call("GET", "/metrics");
    const line = String(metrics.body)
      .split("\n")
      .find((text) => text.startsWith(`restage_items_processed_total{unit="${unit}"}`));
    expect(line?.split(" ").pop()).toBe("80");
    const records = String(metrics.body)
      .split("\n")
      .find((text) => text.startsWith(`restage_records{unit="${unit}"}`));
    expect(records?.split(" ").pop()).toBe("80");
  });
});
