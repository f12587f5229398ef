/**
 * The reprocessing job over time: big drains whose counts add up at every step, fills in
 * chunks, the throttle, the batch settings, and a unit evicted mid-drain. Background
 * alarms drive most of these; assertions hold whenever the status is read.
 */
import { evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { FILL_CHUNK } from "../src/unit/fills";
import { call, createUnit, unitStub } from "./helpers";
import {
  addMany,
  drain,
  recorded,
  recorder,
  setPipelines,
  setSettings,
  onInstance,
  sleep,
  status,
  waitForStatus,
  type ModuleRef,
  type Status,
  type UnitInternals,
} from "./queue-helpers";

async function unitWith(pipeline: ModuleRef[] | ((unit: string) => ModuleRef[]), settings?: Record<string, unknown>): Promise<string> {
  const unit = await createUnit({ reprocessingQueue: true, contentProcessing: false });
  await setPipelines(unit, { raw: typeof pipeline === "function" ? pipeline(unit) : pipeline });
  if (settings) await setSettings(unit, settings);
  return unit;
}

/**
 * Reads the status until the unit is idle, checking at every read that the figures add
 * up: nothing lost, nothing counted twice. While a fill runs, part of the total is not
 * queued yet, so the sum may be lower; once it ends, it is exact.
 */
async function watchDrain(unit: string, total: number, base: Status, timeoutMs = 60_000): Promise<Status[]> {
  const seen: Status[] = [];
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = await status(unit);
    seen.push(s);
    const accounted = s.pending + s.assigned + s.failed - base.failed + (s.processed - base.processed);
    if (s.filling) expect(accounted).toBeLessThanOrEqual(total);
    else expect(accounted, JSON.stringify(s)).toBe(total);
    const previous = seen[seen.length - 2];
    if (previous) expect(s.processed).toBeGreaterThanOrEqual(previous.processed);
    if (!s.filling && s.pending === 0 && s.assigned === 0) return seen;
    if (Date.now() > until) throw new Error(`drain of ${unit} did not end: ${JSON.stringify(s)}`);
    await sleep(5);
  }
}

describe("a big reprocess/all", () => {
  it("over 10,000 records drains completely, counts adding up at every step, each key run once", async () => {
    const unit = await unitWith((u) => [recorder(u)], { batchSize: 100, workers: 4 });
    const keys = await addMany(unit, "raw", 10_000);
    const base = await status(unit);
    expect((await call("POST", `/reprocess/all/${unit}/raw`)).body).toEqual({ message: "OK", queued: 10_000, runId: expect.any(String) });
    const seen = await watchDrain(unit, 10_000, base);
    expect(seen[seen.length - 1]).toMatchObject({ processed: 10_000, pending: 0, assigned: 0, failed: 0, filling: false, lastError: null });
    const runs = recorded(unit, "process").map((c) => c.key!);
    expect(runs).toHaveLength(10_000);
    expect(new Set(runs)).toEqual(new Set(keys));
    // every batch within batchSize
    expect(Math.max(...recorded(unit, "batchStart").map((c) => c.batchSize!))).toBeLessThanOrEqual(100);
  });

  it("shows filling while the queue is filled in chunks, and a paused unit holds its fill", async () => {
    const total = 2 * FILL_CHUNK + 100;
    const unit = await unitWith([{ module: "Noop" }], { batchSize: 1000 });
    await addMany(unit, "raw", total);
    await call("PUT", `/reprocess/pause/${unit}`);
    const base = await status(unit);
    expect((await call("GET", `/reprocess/all/${unit}/raw`)).body).toEqual({ message: "OK", queued: total, runId: expect.any(String) });
    // the first chunk is queued at once, the rest waits for the job
    expect(await status(unit)).toMatchObject({ filling: true, pending: FILL_CHUNK, fillRemaining: total - FILL_CHUNK, paused: true });
    await sleep(50);
    expect(await status(unit)).toMatchObject({ filling: true, pending: FILL_CHUNK, fillRemaining: total - FILL_CHUNK });
    await call("PUT", `/reprocess/resume/${unit}`);
    const seen = await watchDrain(unit, total, base);
    expect(seen[seen.length - 1]).toMatchObject({ processed: total, filling: false, fillRemaining: 0 });
  });

  it("fillRemaining counts down as the job takes the fill's keys", async () => {
    const unit = await unitWith([{ module: "Noop" }]);
    await addMany(unit, "raw", FILL_CHUNK + 2500);
    await call("PUT", `/reprocess/pause/${unit}`);
    await call("GET", `/reprocess/all/${unit}/raw`);
    expect(await status(unit)).toMatchObject({ filling: true, fillRemaining: 2500 });
    const takeKeys = () => onInstance(unit, (u) => (u as unknown as { fills: import("../src/unit/fills").Fills }).fills.claim(1000, 60_000));
    await takeKeys();
    expect(await status(unit)).toMatchObject({ filling: true, fillRemaining: 1500, assigned: 1000 });
    await takeKeys();
    await takeKeys();
    expect(await status(unit)).toMatchObject({ filling: false, fillRemaining: 0, assigned: 2500 });
  });

  it("a second identical reprocess/all while the first still fills replaces it: each key runs once", async () => {
    const total = FILL_CHUNK + 10;
    const unit = await unitWith((u) => [recorder(u)]);
    const keys = await addMany(unit, "raw", total);
    await call("PUT", `/reprocess/pause/${unit}`);
    await call("GET", `/reprocess/all/${unit}/raw`);
    expect((await call("GET", `/reprocess/all/${unit}/raw`)).body).toEqual({ message: "OK", queued: total, runId: expect.any(String) });
    // the first chunk is pending once (dedup), the rest is left to one fill
    expect(await status(unit)).toMatchObject({ filling: true, pending: FILL_CHUNK, fillRemaining: total - FILL_CHUNK });
    await call("PUT", `/reprocess/resume/${unit}`);
    expect(await drain(unit)).toMatchObject({ processed: total, failed: 0 });
    const runs = recorded(unit, "process").map((c) => c.key);
    expect(runs).toHaveLength(total);
    expect(new Set(runs)).toEqual(new Set(keys));
  });

  it("a reprocess/all with another prefix or since is a fill of its own", async () => {
    const total = FILL_CHUNK + 10;
    const unit = await unitWith([{ module: "Noop" }]);
    await addMany(unit, "raw", total);
    await call("PUT", `/reprocess/pause/${unit}`);
    await call("GET", `/reprocess/all/${unit}/raw`);
    await call("GET", `/reprocess/all/${unit}/raw?prefix=k`);
    await call("GET", `/reprocess/all/${unit}/raw?since=2000-01-01T00:00:00.000Z`);
    expect(await status(unit)).toMatchObject({ filling: true, fillRemaining: 3 * (total - FILL_CHUNK) });
    // each of them called again replaces its own
    await call("GET", `/reprocess/all/${unit}/raw?prefix=k`);
    await call("GET", `/reprocess/all/${unit}/raw?since=2000-01-01T00:00:00.000Z`);
    await call("GET", `/reprocess/all/${unit}/raw`);
    expect(await status(unit)).toMatchObject({ filling: true, fillRemaining: 3 * (total - FILL_CHUNK) });
  });
});

describe("settings in force", () => {
  it("maxItemsPerSecond: no more items run than the rate allows over the time that passed", async () => {
    const rate = 25;
    const count = 50;
    const unit = await unitWith((u) => [recorder(u)], { maxItemsPerSecond: rate, workers: 4, batchSize: 20 });
    await addMany(unit, "raw", count);
    await call("POST", `/reprocess/all/${unit}/raw`);
    await drain(unit);
    const times = recorded(unit, "process")
      .map((c) => c.at)
      .sort((a, b) => a - b);
    expect(times).toHaveLength(count);
    // a bucket starts with one item's worth and refills at `rate`: the last of `count` items cannot run sooner
    const elapsed = times[times.length - 1]! - times[0]!;
    expect(elapsed).toBeGreaterThanOrEqual(((count - 1) / rate) * 1000 - 50);
    // nor can any run of 2 x rate items fit in less than a second (a full bucket, then the refill)
    for (let i = 0; i + 2 * rate - 1 < times.length; i++) expect(times[i + 2 * rate - 1]! - times[i]!).toBeGreaterThanOrEqual(1000 - 50);
  });

  it("concurrency: items of a batch beyond it wait for a free lane", async () => {
    const unit = await unitWith(
      (u) => [{ module: "Fault", settings: { stallKeys: ["k000000", "k000001", "k000002", "k000003"], stallMs: 200 } }, recorder(u)],
      {
        concurrency: 2,
        batchSize: 10,
        workers: 1,
      },
    );
    await addMany(unit, "raw", 4);
    await call("POST", `/reprocess/all/${unit}/raw`);
    await drain(unit);
    const calls = recorded(unit, "process");
    // items start in order, two at a time: the third and fourth only once the first two are through
    expect(
      calls
        .map((c) => c.key)
        .slice(0, 2)
        .sort(),
    ).toEqual(["k000000", "k000001"]);
    const times = calls.map((c) => c.at).sort((a, b) => a - b);
    expect(times[2]! - times[0]!).toBeGreaterThanOrEqual(199);
    expect(recorded(unit, "batchStart")).toHaveLength(1);
  });

  it("workers and batchSize bound the items assigned at once", async () => {
    const keys = Array.from({ length: 8 }, (_, i) => `k${String(i).padStart(6, "0")}`);
    const unit = await unitWith((u) => [{ module: "Fault", settings: { stallKeys: keys, stallMs: 150 } }, recorder(u)], {
      workers: 2,
      batchSize: 2,
      concurrency: 8,
    });
    await addMany(unit, "raw", keys.length);
    await call("POST", `/reprocess/all/${unit}/raw`);
    let most = 0;
    for (;;) {
      const s = await status(unit);
      most = Math.max(most, s.assigned);
      expect(s.assigned).toBeLessThanOrEqual(4);
      if (s.pending === 0 && s.assigned === 0) break;
      await sleep(5);
    }
    expect(most).toBeGreaterThan(0);
    expect(recorded(unit, "batchStart").every((c) => c.batchSize! <= 2)).toBe(true);
    expect(recorded(unit, "process")).toHaveLength(8);
  });
});

describe("a worker that throws", () => {
  it("ends the run only once every other worker's batch has ended, then reports the error", async () => {
    const unit = await createUnit({ reprocessingQueue: true, contentProcessing: false });
    // "other" has an empty pipeline: its item completes at once, where the failing write is
    await setPipelines(unit, { raw: [{ module: "Fault", settings: { stallKeys: ["slow000000"], stallMs: 300 } }], other: [] });
    await setSettings(unit, { workers: 2, batchSize: 1 });
    await call("PUT", `/reprocess/pause/${unit}`);
    await addMany(unit, "raw", 1, "slow");
    await addMany(unit, "other", 1, "bad");
    await call("GET", `/reprocess/key/${unit}/slow000000/raw`);
    await call("GET", `/reprocess/key/${unit}/bad000000/other`);
    const outcome = await onInstance(unit, async (u) => {
      const internals = u as unknown as UnitInternals & { job: { run(): Promise<void> } };
      const complete = internals.queue.complete.bind(internals.queue);
      // one worker's batch fails to record its result (as a storage error would), while the other's still runs
      internals.queue.complete = (claim, ...rest) => {
        if (claim.scope === "other") throw new Error("storage refused the write");
        return complete(claim, ...rest);
      };
      // resumed without arming the alarm: this run is the only one
      internals.config.update({ paused: false });
      try {
        await internals.job.run();
        return { error: undefined, slowQueued: undefined };
      } catch (error) {
        const slowQueued = internals.sql.first("SELECT 1 AS x FROM queue WHERE key = 'slow000000'") !== undefined;
        return { error: String(error), slowQueued };
      } finally {
        delete (internals.queue as { complete?: unknown }).complete;
      }
    });
    // the slow batch had completed when the run ended
    expect(outcome).toEqual({ error: "Error: storage refused the write", slowQueued: false });
    expect(await status(unit)).toMatchObject({ processed: 1 });
  });
});

describe("eviction and aborts", () => {
  it("state and queue survive evictDurableObject mid-drain, and the drain completes", async () => {
    const total = 10_000;
    // throttled so the drain is surely still going when the object is evicted
    const unit = await unitWith((u) => [recorder(u)], { maxItemsPerSecond: 2000, batchSize: 100 });
    const keys = await addMany(unit, "raw", total);
    await call("POST", `/reprocess/all/${unit}/raw`);
    await waitForStatus(unit, (s) => s.processed > 0, "the drain to start");
    // held mid-drain: no batch starts once paused; the pause may come in between two items of a batch (the job yields there), which then ends
    await call("PUT", `/reprocess/pause/${unit}`);
    const before = await waitForStatus(unit, (s) => s.assigned === 0, "the batches running at the pause to end");
    expect(before).toMatchObject({ paused: true, assigned: 0 });
    expect(before.pending > 0 || before.filling).toBe(true);
    await evictDurableObject(unitStub(unit));
    // all but the next run, which a paused unit no longer has once nothing runs
    expect(await status(unit)).toEqual({ ...before, nextRunAt: null });
    const info = await call("GET", `/admin/getStorageUnit/${unit}`);
    expect(info.body.storageUnit.settings).toMatchObject({ maxItemsPerSecond: 2000, batchSize: 100 });
    await setSettings(unit, { maxItemsPerSecond: null });
    await call("PUT", `/reprocess/resume/${unit}`);
    // and once more while the job runs: eviction lets the running alarm finish or resumes it
    await evictDurableObject(unitStub(unit));
    const seen = await watchDrain(unit, total, { ...before, processed: 0, failed: 0 });
    expect(seen[seen.length - 1]).toMatchObject({ processed: total, failed: 0 });
    const runs = recorded(unit, "process").map((c) => c.key);
    expect(runs).toHaveLength(total);
    expect(new Set(runs)).toEqual(new Set(keys));
  });

  it("a run killed mid-batch loses nothing: its items run again after their lease", async () => {
    // one chunk: queued whole at the call, so every item is in the queue from the start
    const total = FILL_CHUNK;
    const unit = await unitWith((u) => [recorder(u)], { maxItemsPerSecond: 2000, batchSize: 100, leaseMs: 1000 });
    const keys = await addMany(unit, "raw", total);
    await call("POST", `/reprocess/all/${unit}/raw`);
    await waitForStatus(unit, (s) => s.processed > 0, "the drain to start");
    // ctx.abort() resets the object at once: the running alarm dies mid-batch
    await onInstance(unit, (_instance, state) => state.abort("killed by the test")).catch(() => undefined);
    const after = await status(unit);
    expect(after.pending + after.assigned + after.processed).toBe(total);
    expect(after.pending + after.assigned).toBeGreaterThan(0);
    await setSettings(unit, { maxItemsPerSecond: null });
    const seen = await watchDrain(unit, total, { ...after, processed: 0, failed: 0 });
    expect(seen[seen.length - 1]).toMatchObject({ processed: total, failed: 0 });
    // at least once: every key ran, none was lost
    expect(new Set(recorded(unit, "process").map((c) => c.key))).toEqual(new Set(keys));
  });

  it("a paused unit stays paused after eviction, with its queue", async () => {
    const unit = await unitWith((u) => [recorder(u)]);
    await addMany(unit, "raw", 30);
    await call("PUT", `/reprocess/pause/${unit}`);
    await call("GET", `/reprocess/all/${unit}/raw`);
    await evictDurableObject(unitStub(unit));
    expect(await status(unit)).toMatchObject({ paused: true, pending: 30 });
    await call("PUT", `/reprocess/resume/${unit}`);
    expect(await drain(unit)).toMatchObject({ processed: 30 });
  });
});
