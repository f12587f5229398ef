/**
 * Runs (API.md, "Runs, progress and metrics"): every `reprocess/all` (API or schedule) is a
 * run with its own counts, followed through `reprocess/runs` and `reprocess/run`, stopped
 * through `reprocess/cancel`; a throttled run shows a rate and an ETA close to its throttle.
 */
import { describe, expect, it } from "vitest";
import type { Run } from "../src/unit/runs";
import { addRecord, call, createUnit, unitStub } from "./helpers";
import { addMany, drain, onInstance, setPipelines, setSettings, status, waitFor } from "./queue-helpers";

const noop = { raw: [{ module: "Noop", settings: {} }] };

async function startRun(unit: string, query = ""): Promise<{ runId: string; queued: number }> {
  const answer = await call("POST", `/reprocess/all/${unit}/raw${query}`);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  expect(answer.body.runId).toMatch(/^[0-9a-f-]{36}$/);
  return answer.body as { runId: string; queued: number };
}

async function runOf(unit: string, runId: string): Promise<Run> {
  const answer = await call<{ run: Run }>("GET", `/reprocess/run/${unit}/${runId}`);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body.run;
}

/** A unit whose records are stored without queuing them (content processing off), its queue enabled. */
async function unitWith(records: number, options: { paused?: boolean } = {}): Promise<string> {
  const unit = await createUnit({ reprocessingQueue: true, contentProcessing: false });
  await setPipelines(unit, noop);
  if (records > 0) await addMany(unit, "raw", records);
  if (options.paused) expect((await call("PUT", `/reprocess/pause/${unit}`)).status).toBe(200);
  return unit;
}

describe("runs", () => {
  it("reprocess/all starts a run with counts of its own, done once its items are", async () => {
    const unit = await unitWith(30);
    const first = await startRun(unit);
    expect(first.queued).toBe(30);
    await drain(unit);
    const run = await runOf(unit, first.runId);
    expect(run).toMatchObject({
      id: first.runId,
      scope: "raw",
      prefix: null,
      since: null,
      trigger: "api",
      state: "done",
      total: 30,
      processed: 30,
      failed: 0,
      etaSeconds: null,
    });
    expect(Date.parse(run.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(run.startedAt));

    // a second run counts its own items; the unit's processed counts both
    const second = await startRun(unit, "?prefix=k00001&since=2020-01-01T00:00:00Z");
    expect((await drain(unit)).processed).toBe(40);
    expect(await runOf(unit, second.runId)).toMatchObject({
      state: "done",
      total: 10,
      processed: 10,
      prefix: "k00001",
      since: "2020-01-01T00:00:00.000Z",
    });
    const list = await call<{ runs: Run[] }>("GET", `/reprocess/runs/${unit}`);
    expect(list.body.runs.map((r) => r.id)).toEqual([second.runId, first.runId]);
    expect((await call<{ runs: Run[] }>("GET", `/reprocess/runs/${unit}?limit=1`)).body.runs.map((r) => r.id)).toEqual([second.runId]);
  });

  it("a run that reaches no key is done at once", async () => {
    const unit = await unitWith(3);
    const { runId, queued } = await startRun(unit, "?prefix=nothing-like-this");
    expect(queued).toBe(0);
    const run = await runOf(unit, runId);
    expect(run).toMatchObject({ state: "done", total: 0, processed: 0, etaSeconds: null });
    expect(run.finishedAt).not.toBeNull();
  });

  it("fills in chunks; cancel drops its pending items and unfilled keys, but not an item a write queued again", async () => {
    const unit = await unitWith(6000, { paused: true });
    const { runId } = await startRun(unit);
    // one chunk of 5,000 queued at the call, 1,000 keys left to the job (paused: it waits)
    expect(await runOf(unit, runId)).toMatchObject({ state: "filling", total: 6000, processed: 0, etaSeconds: null, finishedAt: null });
    expect(await status(unit)).toMatchObject({ filling: true, pending: 5000, fillRemaining: 1000 });

    // a write queues k000001 again: that item is the write's now
    expect((await call("PUT", `/admin/enableContentProcessing/${unit}/true`)).status).toBe(200);
    await addRecord(unit, "raw", { key: "k000001", content: { n: "changed" } });

    const cancel = await call("POST", `/reprocess/cancel/${unit}/${runId}`);
    expect(cancel.body).toEqual({ message: "OK", dropped: 4999 + 1000 });
    expect(await status(unit)).toMatchObject({ filling: false, pending: 1, fillRemaining: 0 });
    const run = await runOf(unit, runId);
    expect(run).toMatchObject({ state: "cancelled", processed: 0, etaSeconds: null });
    expect(run.finishedAt).not.toBeNull();
    // a second cancel has nothing left to drop
    expect((await call("POST", `/reprocess/cancel/${unit}/${runId}`)).body).toEqual({ message: "OK", dropped: 0 });
    expect((await runOf(unit, runId)).state).toBe("cancelled");
  });

  it("a reprocess/all with the same filter replaces the filling run: its pending keys now belong to the new one", async () => {
    const unit = await unitWith(6000, { paused: true });
    const old = await startRun(unit);
    const other = await startRun(unit, "?prefix=k0001");
    const newer = await startRun(unit);
    expect(await runOf(unit, old.runId)).toMatchObject({ state: "replaced", total: 6000 });
    expect((await runOf(unit, old.runId)).finishedAt).not.toBeNull();
    // another filter is another run, not replaced; but its keys, pending, went on to the newest run
    expect(await runOf(unit, other.runId)).toMatchObject({ state: "done", total: 100, processed: 0 });
    expect(await runOf(unit, newer.runId)).toMatchObject({ state: "filling", total: 6000 });
    // the newer run owns the 5,000 keys queued before it (k0001xx among them), and its 1,000 unfilled
    expect((await call("POST", `/reprocess/cancel/${unit}/${newer.runId}`)).body).toEqual({ message: "OK", dropped: 6000 });
    expect((await status(unit)).pending).toBe(0);
  });

  it("answers 404 RUN_NOT_FOUND for a run it does not know, 400 for a limit out of range", async () => {
    const unit = await unitWith(1);
    for (const [method, path] of [
      ["GET", `/reprocess/run/${unit}/no-such-run`],
      ["POST", `/reprocess/cancel/${unit}/no-such-run`],
    ] as const) {
      const answer = await call(method, path);
      expect(answer.status).toBe(404);
      expect(answer.body.message).toBe("RUN_NOT_FOUND");
      expect(answer.body.detail).toContain("/reprocess/runs/");
    }
    for (const limit of ["0", "101", "x"]) {
      const answer = await call("GET", `/reprocess/runs/${unit}?limit=${limit}`);
      expect(answer.status).toBe(400);
      expect(answer.body.detail).toContain("limit");
    }
  });

  it("a schedule starts a run of its own, with trigger schedule", async () => {
    const unit = await unitWith(4);
    const set = await call("PUT", `/admin/setReprocessSchedule/${unit}`, { schedules: [{ scope: "raw", cron: "17 4 * * *" }] });
    await unitStub(unit).tick(Date.parse(set.body.schedules[0].nextRunAt));
    await drain(unit);
    const runs = (await call<{ runs: Run[] }>("GET", `/reprocess/runs/${unit}`)).body.runs;
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ trigger: "schedule", state: "done", total: 4, processed: 4 });
  });

  it("keeps the last 100 runs", async () => {
    const unit = await unitWith(1);
    const ids: string[] = [];
    for (let i = 0; i < 101; i++) ids.push((await startRun(unit, "?prefix=none")).runId);
    const runs = (await call<{ runs: Run[] }>("GET", `/reprocess/runs/${unit}?limit=100`)).body.runs;
    expect(runs.map((r) => r.id)).toEqual(ids.slice(1).reverse());
    expect((await call("GET", `/reprocess/run/${unit}/${ids[0]}`)).status).toBe(404);
  });

  it("a throttled run shows a rate and an ETA close to its throttle; cancelled, it stops short and its items leave the queue", async () => {
    const unit = await unitWith(1000);
    await setSettings(unit, { maxItemsPerSecond: 100, batchSize: 10 });
    const { runId } = await startRun(unit);
    // the unit's own alarm runs the job; a few seconds in, the rate has settled
    const run = await waitFor(
      async () => {
        const r = await runOf(unit, runId);
        return r.processed >= 300 ? r : undefined;
      },
      "300 items processed",
      20_000,
    );
    expect(run.state).toBe("running");
    // generous bounds: the machine may be slow, never faster than the throttle allows (plus one batch per worker)
    expect(run.itemsPerSecond).toBeGreaterThan(40);
    expect(run.itemsPerSecond).toBeLessThan(160);
    const left = run.total - run.processed;
    expect(run.etaSeconds).toBeGreaterThanOrEqual(Math.floor(left / 160));
    expect(run.etaSeconds).toBeLessThanOrEqual(Math.ceil(left / 40));
    const unitStatus = await status(unit);
    expect(unitStatus.itemsPerSecond).toBeGreaterThan(40);
    expect(unitStatus.etaSeconds).not.toBeNull();

    const { dropped } = (await call("POST", `/reprocess/cancel/${unit}/${runId}`)).body as { dropped: number };
    expect(dropped).toBeGreaterThan(0);
    const idle = await waitFor(async () => {
      const s = await status(unit);
      return s.pending === 0 && s.assigned === 0 ? s : undefined;
    }, "the cancelled run's batches to finish");
    expect(idle.filling).toBe(false);
    const ended = await runOf(unit, runId);
    expect(ended).toMatchObject({ state: "cancelled", etaSeconds: null, failed: 0 });
    expect(ended.processed).toBeLessThan(1000);
    // every key was processed, or dropped by the cancel
    expect(ended.processed + dropped).toBe(1000);
  });
});

describe("queue counters", () => {
  /** The counts by a count over the queue, and those the unit keeps, per state and per run. */
  async function expectCountersTrue(unit: string): Promise<void> {
    const truth = await onInstance(unit, (instance) => ({
      states: instance.sql.all<{ state: number; n: number }>("SELECT state, count(*) AS n FROM queue GROUP BY state"),
      runs: instance.sql.all<{ seq: number; open: number; n: number }>(
        "SELECT runs.seq, runs.open, (SELECT count(*) FROM queue WHERE queue.run = runs.seq AND queue.state IN (0, 1)) AS n FROM runs",
      ),
    }));
    const of = (state: number) => truth.states.find((row) => row.state === state)?.n ?? 0;
    expect(await status(unit)).toMatchObject({ pending: of(0), assigned: of(1), failed: of(2) });
    for (const run of truth.runs) expect(run.open, `open items of run ${run.seq}`).toBe(run.n);
    const info = await call("GET", `/admin/getStorageUnit/${unit}`);
    expect(info.body.storageUnit.queue).toEqual({ pending: of(0), assigned: of(1), failed: of(2) });
  }

  it("equal the true counts after adds, deletes, fills, failures, retries, purges, resets and cancels", async () => {
    const unit = await createUnit({ reprocessingQueue: true, contentProcessing: true });
    await setPipelines(unit, { raw: [{ module: "Fault", settings: { failKeys: ["k000002", "k000003", "k000004"] } }] });
    await setSettings(unit, { maxAttempts: 1 });
    expect((await call("PUT", `/reprocess/pause/${unit}`)).status).toBe(200);
    await addMany(unit, "raw", 40);
    await expectCountersTrue(unit);
    await call("PUT", `/transaction/execute/${unit}/raw`, { key: "k000010", action: "delete" });
    await startRun(unit);
    await startRun(unit, "?prefix=k00002");
    await expectCountersTrue(unit);
    await call("PUT", `/reprocess/resume/${unit}`);
    await drain(unit);
    await expectCountersTrue(unit);
    expect((await status(unit)).failed).toBe(3);
    expect((await call("POST", `/reprocess/retryFailed/${unit}`, { keys: ["k000002"] })).body).toEqual({ message: "OK", requeued: 1 });
    await expectCountersTrue(unit);
    expect((await call("POST", `/reprocess/purgeFailed/${unit}`)).body).toEqual({ message: "OK", purged: 2 });
    await call("PUT", `/reprocess/pause/${unit}`);
    const { runId } = await startRun(unit);
    await addRecord(unit, "raw", { key: "k000005", content: { n: "again" } });
    await call("GET", `/reprocess/reset/${unit}`);
    await expectCountersTrue(unit);
    await call("POST", `/reprocess/cancel/${unit}/${runId}`);
    await expectCountersTrue(unit);
    await startRun(unit);
    expect((await call("POST", `/reprocess/purge/${unit}`)).body.purged).toBeGreaterThan(0);
    await expectCountersTrue(unit);
    // a claim and its results: the alarm runs the rest
    await call("PUT", `/reprocess/resume/${unit}`);
    await startRun(unit);
    await drain(unit);
    await expectCountersTrue(unit);
  });
});
