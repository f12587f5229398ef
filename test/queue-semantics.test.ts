/**
 * The queue semantics of API.md ("Queue semantics") as the job and the routes carry them
 * out: dedup, rerun while assigned, leases, reset, backoff and failure, and deletes (what
 * writes queue: test/ingestion-queue.test.ts). Each transition of the state machine on its
 * own is tested on plain SQLite (test/sqlite/queue-state-machine.test.ts). A few tests here reach into the unit
 * (runInDurableObject) to claim a batch and abandon it, as a run that dies would (and evict the
 * instance, as a runtime that dies with its run would); the rest
 * go through HTTP only.
 */
import { evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { FILL_CHUNK } from "../src/unit/fills";
import { addRecord, call, createUnit, unitStub } from "./helpers";
import {
  addMany,
  drain,
  onInstance,
  recorded,
  recorder,
  setPipelines,
  setSettings,
  status,
  waitFor,
  waitForStatus,
  type ModuleRef,
} from "./queue-helpers";

/** A unit with the queue on, content processing off (so only reprocess calls queue), the given pipeline on `raw`. */
async function unitWith(
  pipeline: (unit: string) => ModuleRef[],
  options: { paused?: boolean; settings?: Record<string, unknown> } = {},
): Promise<string> {
  const unit = await createUnit({ reprocessingQueue: true, contentProcessing: false });
  await setPipelines(unit, { raw: pipeline(unit) });
  if (options.settings) await setSettings(unit, options.settings);
  if (options.paused) expect((await call("PUT", `/reprocess/pause/${unit}`)).status).toBe(200);
  return unit;
}

const stall = (keys: string[], ms: number): ModuleRef => ({ module: "Fault", settings: { stallKeys: keys, stallMs: ms } });

type QueueRow = {
  state: number;
  attempts: number;
  next_run_at: number;
  rerun: number;
  last_error: string | null;
  lease_token: string | null;
  failed_at: number | null;
};

function queueRow(unit: string, key: string): Promise<QueueRow | undefined> {
  return onInstance(unit, (unitInternals) =>
    unitInternals.sql.first<QueueRow>("SELECT state, attempts, next_run_at, rerun, last_error, lease_token, failed_at FROM queue WHERE key = ?", key),
  );
}

describe("dedup", () => {
  it("queuing a pending item again does nothing", async () => {
    const unit = await unitWith((u) => [recorder(u)], { paused: true });
    await addMany(unit, "raw", 2);
    for (let i = 0; i < 3; i++) expect((await call("GET", `/reprocess/key/${unit}/k000000/raw`)).status).toBe(200);
    expect((await call("POST", `/reprocess/keys/${unit}/raw`, { keys: ["k000000", "k000001", "k000001"] })).body).toEqual({
      message: "OK",
      queued: 2,
      missing: [],
    });
    await call("GET", `/reprocess/all/${unit}/raw`);
    expect((await status(unit)).pending).toBe(2);
    await call("PUT", `/reprocess/resume/${unit}`);
    expect(await drain(unit)).toMatchObject({ processed: 2, pending: 0 });
    expect(
      recorded(unit, "process")
        .map((c) => c.key)
        .sort(),
    ).toEqual(["k000000", "k000001"]);
  });
});

describe("a reprocess/all past its first chunk", () => {
  it("runs every key, keys queued already beyond the first chunk included (the claims: test/sqlite/fills.test.ts)", async () => {
    const unit = await unitWith((u) => [recorder(u)], { paused: true });
    const keys = await addMany(unit, "raw", FILL_CHUNK + 20);
    const twice = keys[FILL_CHUNK + 1]!;
    await call("GET", `/reprocess/key/${unit}/${twice}/raw`);
    expect((await call("GET", `/reprocess/all/${unit}/raw`)).body).toEqual({ message: "OK", queued: FILL_CHUNK + 20, runId: expect.any(String) });
    expect(await status(unit)).toMatchObject({ filling: true, pending: FILL_CHUNK + 1, fillRemaining: 20 });
    await call("PUT", `/reprocess/resume/${unit}`);
    expect(await drain(unit)).toMatchObject({ pending: 0, assigned: 0, failed: 0, filling: false });
    const ran = recorded(unit, "process").map((c) => c.key!);
    expect(new Set(ran)).toEqual(new Set(keys));
    // asked for by two calls, `twice` runs again when the fill reaches it while it runs; every other key runs once
    expect(ran.filter((key) => key !== twice)).toHaveLength(keys.length - 1);
  });
});

describe("a reprocess/all over keys beyond the Basic Multilingual Plane", () => {
  it("continues after its first chunk in the store's key order: each key runs once", async () => {
    const unit = await unitWith((u) => [recorder(u)], { paused: true });
    // UTF-8 (the store's order) puts U+E000..U+FFFF before U+10000 and above; UTF-16 (JavaScript's <) puts them after.
    // All four end the first chunk, so the fill goes on from the last of them in the store's order.
    const edge = ["k\uE000", "k\uFF21", "k\u{1F600}", "k\u{10FFFF}"];
    const keys = [...Array.from({ length: FILL_CHUNK - edge.length }, (_, i) => `k${String(i).padStart(6, "0")}`), ...edge, "l1", "l2"];
    for (let start = 0; start < keys.length; start += 10_000) {
      const lines = keys.slice(start, start + 10_000).map((key) => JSON.stringify({ action: "add", scope: "raw", key, content: {} }));
      expect((await call("POST", `/transaction/batch/${unit}`, lines.join("\n"))).body).toEqual({ message: "OK", count: lines.length });
    }
    expect((await call("GET", `/reprocess/all/${unit}/raw`)).body).toEqual({ message: "OK", queued: keys.length, runId: expect.any(String) });
    expect(await status(unit)).toMatchObject({ filling: true, pending: FILL_CHUNK, fillRemaining: keys.length - FILL_CHUNK });
    await call("PUT", `/reprocess/resume/${unit}`);
    expect(await drain(unit)).toMatchObject({ processed: keys.length, failed: 0 });
    const ran = recorded(unit, "process").map((c) => c.key!);
    expect(ran.filter((key) => edge.includes(key) || key.startsWith("l")).sort()).toEqual([...edge, "l1", "l2"].sort());
    expect(ran).toHaveLength(keys.length);
  });
});

describe("rerun while assigned", () => {
  it("a change written while its item runs reaches the pipeline in a second run", async () => {
    const unit = await createUnit({ reprocessingQueue: true, contentProcessing: true });
    await setPipelines(unit, { raw: [stall(["k1"], 1000), recorder(unit)] });
    await addRecord(unit, "raw", { key: "k1", content: { v: 1 } });
    await waitForStatus(unit, (s) => s.assigned === 1, "k1 to be claimed");
    await addRecord(unit, "raw", { key: "k1", content: { v: 2 } });
    expect(await status(unit)).toMatchObject({ pending: 0, assigned: 1 });
    await waitForStatus(unit, (s) => s.processed === 2 && s.pending === 0 && s.assigned === 0, "both runs");
    expect(recorded(unit, "process").map((c) => c.document)).toEqual([{ v: 1 }, { v: 2 }]);
  });
});

describe("leases and run tokens", () => {
  it("a run that dies leaves its items assigned until the lease expires; then they run again", async () => {
    const unit = await unitWith((u) => [recorder(u)], { paused: true });
    await addMany(unit, "raw", 3);
    await call("GET", `/reprocess/all/${unit}/raw`);
    const claim = await onInstance(unit, (u) => u.queue.claim(2, 1000)!);
    expect(claim.items).toHaveLength(2);
    expect(await status(unit)).toMatchObject({ pending: 1, assigned: 2 });
    await call("PUT", `/reprocess/resume/${unit}`);
    // the alarm waits for the lease, then the abandoned items are due again
    const done = await waitForStatus(unit, (s) => s.processed === 3 && s.assigned === 0 && s.pending === 0, "the abandoned items to be recovered");
    expect(done.failed).toBe(0);
    expect(
      recorded(unit, "process")
        .map((c) => c.key)
        .sort(),
    ).toEqual(["k000000", "k000001", "k000002"]);
  });

  it("a run that died with the unit's instance: its items are due at once when the next instance starts", async () => {
    const unit = await unitWith((u) => [recorder(u)], { paused: true });
    await addMany(unit, "raw", 3);
    const { runId } = (await call("GET", `/reprocess/all/${unit}/raw`)).body;
    // claimed under the default lease of a minute, then the instance is gone with its run
    const dead = await onInstance(unit, (u) => u.queue.claim(2, 60_000)!);
    expect(dead.items).toHaveLength(2);
    await evictDurableObject(unitStub(unit));
    expect(await status(unit)).toMatchObject({ pending: 3, assigned: 0, failed: 0, lastError: expect.stringContaining("run died") });
    // a result of the dead run that arrives late is discarded by its token
    const late = await onInstance(unit, (u) => u.queue.complete(dead, new Map(), u.config.get()!.settings).processed);
    expect(late).toBe(0);
    await call("PUT", `/reprocess/resume/${unit}`);
    // well within the lease: drain gives up after 30 s
    expect(await drain(unit)).toMatchObject({ processed: 3, pending: 0, assigned: 0, failed: 0 });
    expect((await call("GET", `/reprocess/run/${unit}/${runId}`)).body.run).toMatchObject({ state: "done", total: 3, processed: 3, failed: 0 });
    expect(
      recorded(unit, "process")
        .map((c) => c.key)
        .sort(),
    ).toEqual(["k000000", "k000001", "k000002"]);
  });

  it("a run that keeps outliving its lease ends failed with the reason", async () => {
    const unit = await unitWith((u) => [stall(["k000000"], 2500), recorder(u)], {
      settings: { leaseMs: 1000, maxAttempts: 2, workers: 1, backoffMs: 10 },
    });
    await addMany(unit, "raw", 1);
    await call("GET", `/reprocess/key/${unit}/k000000/raw`);
    const s = await waitForStatus(unit, (x) => x.failed === 1, "the item to fail", 20_000);
    expect(s).toMatchObject({ pending: 0, assigned: 0, processed: 0, lastError: expect.stringContaining("lease expired") });
    const failed = await call("GET", `/reprocess/failed/${unit}`);
    expect(failed.body.items).toEqual([expect.objectContaining({ key: "k000000", attempts: 2, lastError: expect.stringContaining("lease") })]);
  });

  it("an item queued again while assigned survives the lease expiry of its last attempt and runs again", async () => {
    const unit = await unitWith((u) => [recorder(u)], { paused: true, settings: { maxAttempts: 1 } });
    await addMany(unit, "raw", 1);
    await call("GET", `/reprocess/key/${unit}/k000000/raw`);
    await onInstance(unit, (u) => u.queue.claim(10, 1000));
    await call("GET", `/reprocess/key/${unit}/k000000/raw`);
    expect(await queueRow(unit, "k000000")).toMatchObject({ state: 1, attempts: 1, rerun: 1 });
    // the run dies on its one allowed attempt (the paused unit's job still expires leases);
    // the change queued meanwhile must not be lost
    const expired = await waitFor(async () => {
      const row = await queueRow(unit, "k000000");
      return row?.state === 1 ? undefined : row;
    }, "the lease to expire");
    expect(expired).toMatchObject({ state: 0, attempts: 0, rerun: 0, lease_token: null });
    expect(await status(unit)).toMatchObject({ pending: 1, assigned: 0, failed: 0 });
    await call("PUT", `/reprocess/resume/${unit}`);
    expect(await drain(unit)).toMatchObject({ processed: 1, failed: 0 });
    expect(recorded(unit, "process").map((c) => c.key)).toEqual(["k000000"]);
  });

  it("reset while a module hangs: the item runs again and counts once", async () => {
    const unit = await unitWith((u) => [stall(["k000000"], 1000), recorder(u)]);
    await addMany(unit, "raw", 1);
    await call("GET", `/reprocess/key/${unit}/k000000/raw`);
    await waitForStatus(unit, (s) => s.assigned === 1, "the item to be claimed");
    expect((await call("GET", `/reprocess/reset/${unit}`)).body).toEqual({ message: "OK", unassigned: 1 });
    const done = await waitForStatus(unit, (s) => s.pending === 0 && s.assigned === 0 && recorded(unit, "process").length === 2, "both runs to end");
    expect(done.processed).toBe(1);
  });
});

describe("a hung module", () => {
  it("does not block status, reset or the other workers", async () => {
    const unit = await unitWith((u) => [stall(["slow"], 3000), recorder(u)], { settings: { workers: 2, batchSize: 1 } });
    await addRecord(unit, "raw", { key: "slow", content: {} });
    await addMany(unit, "raw", 5);
    await call("GET", `/reprocess/key/${unit}/slow/raw`);
    const hung = await waitForStatus(unit, (s) => s.assigned === 1, "the slow item to be claimed");
    // the job is running: that is its next run, though the platform shows no alarm meanwhile
    expect(hung.nextRunAt).not.toBeNull();
    // queued while the slow batch hangs: another worker takes them
    await call("GET", `/reprocess/all/${unit}/raw?prefix=k`);
    const s = await waitForStatus(unit, (x) => x.processed >= 5, "the other items");
    expect(s).toMatchObject({ assigned: 1, pending: 0 });
    expect(recorded(unit, "process").map((c) => c.key)).not.toContain("slow");
    expect((await call("POST", `/reprocess/reset/${unit}`)).body).toEqual({ message: "OK", unassigned: 1 });
  });
});

describe("a unit deleted while a batch runs", () => {
  it("the batch's writes and result do not land in the unit created again under its name", async () => {
    const unit = await createUnit({ reprocessingQueue: true, contentProcessing: true });
    await setPipelines(unit, { raw: [recorder(unit), stall(["k1"], 500), { module: "ScopeWriter", settings: { scope: "index" } }] });
    await addRecord(unit, "raw", { key: "k1", content: { v: "old" } });
    await waitForStatus(unit, (s) => s.assigned === 1, "k1 to be claimed");
    expect((await call("DELETE", `/admin/deleteStorageUnit/${unit}`)).status).toBe(200);
    await createUnit({ reprocessingQueue: true, contentProcessing: true }, unit);
    await waitFor(async () => (recorded(unit, "batchEnd").length > 0 ? true : undefined), "the old batch to end");
    expect((await call("GET", `/access/fetch/${unit}/k1`)).status).toBe(404);
    expect(await status(unit)).toMatchObject({ pending: 0, assigned: 0, failed: 0, processed: 0, lastError: null });
  });

  it("the batch ends quietly when the unit is gone", async () => {
    const unit = await unitWith((u) => [recorder(u), stall(["k000000"], 300), { module: "ScopeWriter", settings: { scope: "index" } }], {
      paused: true,
    });
    await addMany(unit, "raw", 1);
    await call("GET", `/reprocess/key/${unit}/k000000/raw`);
    // the alarm's run, started by hand on a paused unit so no other run competes with it
    const run = onInstance(unit, (u) => {
      u.config.update({ paused: false });
      return (u as unknown as { alarm(): Promise<void> }).alarm();
    });
    await waitForStatus(unit, (s) => s.assigned === 1, "k000000 to be claimed");
    expect((await call("DELETE", `/admin/deleteStorageUnit/${unit}`)).status).toBe(200);
    await expect(run).resolves.toBeUndefined();
    expect((await call("GET", `/reprocess/status/${unit}`)).status).toBe(404);
  });
});

describe("deletes", () => {
  it("a delete queued behind a pending change reaches the pipeline as a deletion", async () => {
    const unit = await createUnit({ reprocessingQueue: true, contentProcessing: true });
    await setPipelines(unit, { raw: [recorder(unit)] });
    await call("PUT", `/reprocess/pause/${unit}`);
    await addRecord(unit, "raw", { key: "k1", content: { a: 1 } });
    await call("POST", `/transaction/execute/${unit}/raw`, { key: "k1", action: "delete" });
    expect((await status(unit)).pending).toBe(1);
    await call("PUT", `/reprocess/resume/${unit}`);
    expect(await drain(unit)).toMatchObject({ processed: 1 });
    expect(recorded(unit, "process")).toEqual([expect.objectContaining({ key: "k1", kind: "delete", document: null })]);
  });

  it("a change queued behind a delete reaches the pipeline as a change", async () => {
    const unit = await createUnit({ reprocessingQueue: true, contentProcessing: true });
    await setPipelines(unit, { raw: [recorder(unit)] });
    await addRecord(unit, "raw", { key: "k1", content: { a: 1 } });
    await drain(unit);
    await call("PUT", `/reprocess/pause/${unit}`);
    await call("POST", `/transaction/execute/${unit}/raw`, { key: "k1", action: "delete" });
    await addRecord(unit, "raw", { key: "k1", content: { a: 2 } });
    await call("PUT", `/reprocess/resume/${unit}`);
    await drain(unit);
    expect(recorded(unit, "process").map((c) => [c.kind, c.document])).toEqual([
      ["process", { a: 1 }],
      ["process", { a: 2 }],
    ]);
  });

  it("deleting a whole record sends a deletion to each scope's pipeline", async () => {
    const unit = await createUnit({ reprocessingQueue: true, contentProcessing: true });
    await setPipelines(unit, { raw: [recorder(unit)], index: [recorder(unit)] });
    await addRecord(unit, "raw", { key: "k1", content: {} });
    await addRecord(unit, "index", { key: "k1", content: {} });
    await drain(unit);
    await call("POST", `/transaction/execute/${unit}/$record`, { key: "k1", action: "delete" });
    await drain(unit);
    const deletes = recorded(unit, "process").filter((c) => c.kind === "delete");
    expect(deletes.map((c) => c.scope).sort()).toEqual(["index", "raw"]);
  });
});

describe("failures", () => {
  it("retries with exponential backoff, then keeps the item failed with its last error", async () => {
    const unit = await unitWith((u) => [recorder(u), { module: "Fault", settings: { failAll: true, error: "upstream said no" } }], {
      settings: { maxAttempts: 3, backoffMs: 200, maxBackoffMs: 10_000 },
    });
    await addMany(unit, "raw", 1);
    await call("GET", `/reprocess/key/${unit}/k000000/raw`);
    const s = await waitForStatus(unit, (x) => x.failed === 1, "the item to fail");
    expect(s).toMatchObject({ pending: 0, assigned: 0, processed: 0, lastError: "raw: upstream said no" });
    const attempts = recorded(unit, "process").map((c) => c.at);
    expect(attempts).toHaveLength(3);
    // each retry waits at least backoffMs, doubled each time
    expect(attempts[1]! - attempts[0]!).toBeGreaterThanOrEqual(200);
    expect(attempts[2]! - attempts[1]!).toBeGreaterThanOrEqual(400);
    const failed = await call("GET", `/reprocess/failed/${unit}`);
    expect(failed.body.items).toEqual([{ scope: "raw", key: "k000000", attempts: 3, lastError: "upstream said no", failedAt: expect.any(String) }]);
  });

  it("a module that throws fails the whole batch", async () => {
    const unit = await unitWith((u) => [recorder(u), { module: "Fault", settings: { throwIn: "batchEnd", error: "bulk send refused" } }], {
      settings: { maxAttempts: 1, batchSize: 10 },
    });
    await addMany(unit, "raw", 4);
    await call("POST", `/reprocess/all/${unit}/raw`);
    const s = await drain(unit);
    expect(s).toMatchObject({ failed: 4, processed: 0 });
    expect(s.lastError).toContain("bulk send refused");
  });

  it("a pipeline that can no longer be built fails the batch with the reason: retries, then failed", async () => {
    const unit = await unitWith((u) => [recorder(u)], { paused: true, settings: { maxAttempts: 2, backoffMs: 10, leaseMs: 1000 } });
    await addMany(unit, "raw", 2);
    await call("GET", `/reprocess/all/${unit}/raw`);
    // stored before a module was renamed or its settings changed shape: the set route would refuse both today
    await onInstance(unit, (u) => u.config.update({ modules: { modules: { raw: [{ module: "Renamed", settings: {} }] }, settings: {} } }));
    await call("PUT", `/reprocess/resume/${unit}`);
    const s = await drain(unit);
    expect(s).toMatchObject({ failed: 2, processed: 0, lastError: expect.stringContaining("module 'Renamed' is no longer registered") });
    const failed = await call("GET", `/reprocess/failed/${unit}`);
    expect(failed.body.items).toEqual([
      expect.objectContaining({ key: "k000000", attempts: 2, lastError: expect.stringContaining("module 'Renamed' is no longer registered") }),
      expect.objectContaining({ key: "k000001", attempts: 2, lastError: expect.stringContaining("module 'Renamed' is no longer registered") }),
    ]);

    await onInstance(unit, (u) =>
      u.config.update({ modules: { modules: { raw: [{ module: "Fault", settings: { stallMs: "soon" } }] }, settings: {} } }),
    );
    expect((await call("POST", `/reprocess/retryFailed/${unit}`)).body).toEqual({ message: "OK", requeued: 2 });
    const again = await drain(unit);
    expect(again).toMatchObject({ failed: 2, processed: 0, lastError: expect.stringContaining("stallMs") });
  });

  it("a failed item does not hold back the others of its batch", async () => {
    const unit = await unitWith(() => [{ module: "Fault", settings: { failKeys: ["k000001"] } }], { settings: { maxAttempts: 1 } });
    await addMany(unit, "raw", 3);
    await call("POST", `/reprocess/all/${unit}/raw`);
    expect(await drain(unit)).toMatchObject({ failed: 1, processed: 2 });
  });

  it("queuing a failed item again starts it over", async () => {
    const unit = await unitWith(() => [{ module: "Fault", settings: { failAll: true } }], { settings: { maxAttempts: 1 } });
    await addMany(unit, "raw", 1);
    await call("POST", `/reprocess/all/${unit}/raw`);
    expect(await drain(unit)).toMatchObject({ failed: 1 });
    await setPipelines(unit, { raw: [recorder(unit)] });
    await call("PUT", `/reprocess/pause/${unit}`);
    await call("GET", `/reprocess/key/${unit}/k000000/raw`);
    expect(await status(unit)).toMatchObject({ failed: 0, pending: 1 });
    expect((await call("GET", `/reprocess/failed/${unit}`)).body.items).toEqual([]);
    await call("PUT", `/reprocess/resume/${unit}`);
    expect(await drain(unit)).toMatchObject({ failed: 0, processed: 1 });
  });
});
