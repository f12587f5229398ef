/**
 * The Reprocess API routes (API.md, "Reprocess API"): each route in each of its forms, its
 * answers and its errors. The queue's behaviour over time is in queue-semantics.test.ts.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { FILL_CHUNK } from "../src/unit/fills";
import { addRecord, call, createUnit, enc, unitStub } from "./helpers";
import { addMany, drain, recorded, recorder, setPipelines, setSettings, sleep, status, waitForStatus } from "./queue-helpers";

/** A unit with the queue enabled, a Recorder pipeline on `raw`, and the job paused so the queue holds still. */
async function pausedUnit(): Promise<string> {
  const unit = await createUnit({ reprocessingQueue: true, contentProcessing: false });
  await setPipelines(unit, { raw: [recorder(unit)] });
  expect((await call("PUT", `/reprocess/pause/${unit}`)).body).toEqual({ message: "OK" });
  return unit;
}

function expectError(answer: { status: number; body: any }, status: number, message: string): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body.message).toBe(message);
  expect(typeof answer.body.detail).toBe("string");
  expect(answer.body.detail.length).toBeGreaterThan(0);
}

describe("reprocess/key", () => {
  for (const method of ["GET", "POST"]) {
    it(`${method} queues one key and answers OK`, async () => {
      const unit = await pausedUnit();
      await addRecord(unit, "raw", { key: "a/b c", content: { x: 1 } });
      const answer = await call(method, `/reprocess/key/${unit}/${enc("a/b c")}/raw`);
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ message: "OK" });
      expect((await status(unit)).pending).toBe(1);
    });

    it(`${method} answers 404 KEY_NOT_FOUND for a key without that scope, and queues nothing`, async () => {
      const unit = await pausedUnit();
      await addRecord(unit, "raw", { key: "k1", content: {} });
      expectError(await call(method, `/reprocess/key/${unit}/missing/raw`), 404, "KEY_NOT_FOUND");
      await setPipelines(unit, { raw: [recorder(unit)], other: [] });
      expectError(await call(method, `/reprocess/key/${unit}/k1/other`), 404, "KEY_NOT_FOUND");
      await call("POST", `/transaction/execute/${unit}/raw`, { key: "k1", action: "delete" });
      expectError(await call(method, `/reprocess/key/${unit}/k1/raw`), 404, "KEY_NOT_FOUND");
      expect((await status(unit)).pending).toBe(0);
    });
  }
});

describe("reprocess/keys", () => {
  it("GET ?keys= queues the keys found and lists the missing ones", async () => {
    const unit = await pausedUnit();
    for (const key of ["k1", "k,2", "k3"]) await addRecord(unit, "raw", { key, content: {} });
    const answer = await call("GET", `/reprocess/keys/${unit}/raw?keys=k1,${enc("k,2")},nope,k1`);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ message: "OK", queued: 2, missing: ["nope"] });
    expect((await status(unit)).pending).toBe(2);
  });

  it("POST {keys} queues the keys found and lists the missing ones", async () => {
    const unit = await pausedUnit();
    for (const key of ["k1", "k2", "k3"]) await addRecord(unit, "raw", { key, content: {} });
    const answer = await call("POST", `/reprocess/keys/${unit}/raw`, { keys: ["k3", "x", "k1", "y"] });
    expect(answer.body).toEqual({ message: "OK", queued: 2, missing: ["x", "y"] });
    expect((await status(unit)).pending).toBe(2);
  });

  it("rejects an empty, missing or oversized key list with 400 naming the field", async () => {
    const unit = await pausedUnit();
    const bad = [
      await call("GET", `/reprocess/keys/${unit}/raw`),
      await call("GET", `/reprocess/keys/${unit}/raw?keys=`),
      await call("POST", `/reprocess/keys/${unit}/raw`, { keys: [] }),
      await call("POST", `/reprocess/keys/${unit}/raw`, {}),
      await call("POST", `/reprocess/keys/${unit}/raw`, { keys: Array.from({ length: 10_001 }, (_, i) => `k${i}`) }),
    ];
    for (const answer of bad) {
      expectError(answer, 400, "INVALID_REQUEST");
      expect(answer.body.detail).toMatch(/keys/);
    }
  });

  it("accepts 10,000 keys in one call", async () => {
    const unit = await pausedUnit();
    const keys = await addMany(unit, "raw", 10_000);
    const answer = await call("POST", `/reprocess/keys/${unit}/raw`, { keys });
    expect(answer.body).toEqual({ message: "OK", queued: 10_000, missing: [] });
    expect((await status(unit)).pending).toBe(10_000);
  });
});

describe("reprocess/all", () => {
  for (const method of ["GET", "POST"]) {
    it(`${method} queues every key that has the scope`, async () => {
      const unit = await pausedUnit();
      for (const key of ["a1", "a2", "b1"]) await addRecord(unit, "raw", { key, content: {} });
      await addRecord(unit, "other", { key: "c1", content: {} });
      await addRecord(unit, "raw", { key: "gone", content: {} });
      await call("POST", `/transaction/execute/${unit}/raw`, { key: "gone", action: "delete" });
      const answer = await call(method, `/reprocess/all/${unit}/raw`);
      expect(answer.body).toEqual({ message: "OK", queued: 3, runId: expect.any(String) });
      expect((await status(unit)).pending).toBe(3);
    });
  }

  it("?prefix= queues only keys starting with it (LIKE wildcards are plain characters)", async () => {
    const unit = await pausedUnit();
    for (const key of ["a_1", "a_2", "ab", "b_1", "A_3"]) await addRecord(unit, "raw", { key, content: {} });
    expect((await call("GET", `/reprocess/all/${unit}/raw?prefix=a_`)).body).toEqual({ message: "OK", queued: 2, runId: expect.any(String) });
    await call("PUT", `/reprocess/resume/${unit}`);
    await drain(unit);
    expect(
      recorded(unit, "process")
        .map((c) => c.key)
        .sort(),
    ).toEqual(["a_1", "a_2"]);
  });

  it("?since= queues only scopes updated at or after that time", async () => {
    const unit = await pausedUnit();
    await addRecord(unit, "raw", { key: "old", content: {} });
    await sleep(20);
    const since = new Date().toISOString();
    await sleep(5);
    await addRecord(unit, "raw", { key: "new", content: {} });
    expect((await call("POST", `/reprocess/all/${unit}/raw?since=${enc(since)}`)).body).toEqual({
      message: "OK",
      queued: 1,
      runId: expect.any(String),
    });
    expect((await call("POST", `/reprocess/all/${unit}/raw?since=${enc(new Date(Date.now() + 60_000).toISOString())}`)).body).toEqual({
      message: "OK",
      queued: 0,
      runId: expect.any(String),
    });
    await call("PUT", `/reprocess/resume/${unit}`);
    await drain(unit);
    expect(recorded(unit, "process").map((c) => c.key)).toEqual(["new"]);
  });

  it("rejects a bad since or an empty prefix with 400", async () => {
    const unit = await pausedUnit();
    expectError(await call("GET", `/reprocess/all/${unit}/raw?since=yesterday`), 400, "INVALID_REQUEST");
    expectError(await call("GET", `/reprocess/all/${unit}/raw?prefix=`), 400, "INVALID_REQUEST");
  });

  it("answers queued 0 on a scope with no records", async () => {
    const unit = await pausedUnit();
    expect((await call("GET", `/reprocess/all/${unit}/raw`)).body).toEqual({ message: "OK", queued: 0, runId: expect.any(String) });
    expect(await status(unit)).toMatchObject({ pending: 0, filling: false });
  });
});

describe("reprocess/reset", () => {
  for (const method of ["GET", "POST"]) {
    it(`${method} answers the number of items unassigned`, async () => {
      const unit = await pausedUnit();
      expect((await call(method, `/reprocess/reset/${unit}`)).body).toEqual({ message: "OK", unassigned: 0 });
    });
  }
});

describe("a disabled queue", () => {
  it("refuses the seed routes with 409 REPROCESSING_QUEUE_DISABLED, in every form", async () => {
    const unit = await createUnit({ reprocessingQueue: false });
    await addRecord(unit, "raw", { key: "k1", content: {} });
    const refused = [
      await call("GET", `/reprocess/key/${unit}/k1/raw`),
      await call("POST", `/reprocess/key/${unit}/k1/raw`),
      await call("GET", `/reprocess/keys/${unit}/raw?keys=k1`),
      await call("POST", `/reprocess/keys/${unit}/raw`, { keys: ["k1"] }),
      await call("GET", `/reprocess/all/${unit}/raw`),
      await call("POST", `/reprocess/all/${unit}/raw`),
      await call("GET", `/reprocess/reset/${unit}`),
      await call("POST", `/reprocess/reset/${unit}`),
    ];
    for (const answer of refused) {
      expectError(answer, 409, "REPROCESSING_QUEUE_DISABLED");
      expect(answer.body.detail).toContain(`/admin/enableReprocessingQueue/${unit}/true`);
    }
    expect(await status(unit)).toMatchObject({ enabled: false, pending: 0 });
  });

  it("accepts them again once enabled, and refuses them once disabled", async () => {
    const unit = await createUnit({ reprocessingQueue: false });
    await setPipelines(unit, { raw: [] });
    await addRecord(unit, "raw", { key: "k1", content: {} });
    expect((await call("PUT", `/admin/enableReprocessingQueue/${unit}/true`)).status).toBe(200);
    expect((await status(unit)).enabled).toBe(true);
    expect((await call("GET", `/reprocess/key/${unit}/k1/raw`)).status).toBe(200);
    expect((await call("PUT", `/admin/enableReprocessingQueue/${unit}/false`)).status).toBe(200);
    expectError(await call("GET", `/reprocess/key/${unit}/k1/raw`), 409, "REPROCESSING_QUEUE_DISABLED");
  });
});

describe("a unit that does not exist", () => {
  it("answers 404 STORAGE_UNIT_DOESNT_EXIST on every reprocess route", async () => {
    const unit = `no-such-unit-${Date.now().toString(36)}`;
    const answers = [
      await call("GET", `/reprocess/key/${unit}/k1/raw`),
      await call("POST", `/reprocess/keys/${unit}/raw`, { keys: ["k1"] }),
      await call("GET", `/reprocess/keys/${unit}/raw?keys=k1`),
      await call("POST", `/reprocess/all/${unit}/raw`),
      await call("POST", `/reprocess/reset/${unit}`),
      await call("GET", `/reprocess/status/${unit}`),
      await call("PUT", `/reprocess/pause/${unit}`),
      await call("PUT", `/reprocess/resume/${unit}`),
      await call("GET", `/reprocess/failed/${unit}`),
      await call("POST", `/reprocess/retryFailed/${unit}`),
      await call("POST", `/reprocess/purgeFailed/${unit}`),
      await call("POST", `/reprocess/purge/${unit}`),
    ];
    for (const answer of answers) expectError(answer, 404, "STORAGE_UNIT_DOESNT_EXIST");
  });

  it("checks names and tokens before anything else", async () => {
    expectError(await call("GET", "/reprocess/status/bad!name"), 400, "INVALID_REQUEST");
    expectError(await call("GET", "/reprocess/status/u1", undefined, { token: null }), 401, "UNAUTHORIZED");
    expectError(await call("GET", "/reprocess/status/u1", undefined, { token: "wrong" }), 401, "UNAUTHORIZED");
    expectError(await call("DELETE", "/reprocess/status/u1"), 405, "METHOD_NOT_ALLOWED");
    expectError(await call("GET", "/reprocess/pause/u1"), 405, "METHOD_NOT_ALLOWED");
  });
});

describe("reprocess/status", () => {
  it("answers every field, with their types", async () => {
    const unit = await createUnit({ reprocessingQueue: true });
    const s = await status(unit);
    expect(s).toEqual({
      message: "OK",
      enabled: true,
      paused: false,
      filling: false,
      fillRemaining: 0,
      pending: 0,
      assigned: 0,
      failed: 0,
      processed: 0,
      itemsPerSecond: 0,
      etaSeconds: null,
      nextRunAt: null,
      lastError: null,
      splitting: null,
    });
  });

  it("shows nextRunAt as an ISO time while work is due", async () => {
    const unit = await createUnit({ reprocessingQueue: true, contentProcessing: false });
    await setSettings(unit, { backoffMs: 3_600_000, maxBackoffMs: 3_600_000 });
    await setPipelines(unit, { raw: [{ module: "Fault", settings: { failAll: true, error: "boom" } }] });
    await addRecord(unit, "raw", { key: "k1", content: {} });
    const before = Date.now();
    await call("GET", `/reprocess/key/${unit}/k1/raw`);
    const s = await waitForStatus(unit, (s) => s.pending === 1 && s.lastError !== null && s.nextRunAt !== null, "the first failure");
    // the retry is an hour away: the alarm waits for it
    expect(Date.parse(s.nextRunAt!)).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(s.lastError).toContain("boom");
  });
});

describe("pause and resume", () => {
  it("hold the job while still accepting calls, then take the queue up again", async () => {
    const unit = await pausedUnit();
    await addMany(unit, "raw", 5);
    expect((await call("GET", `/reprocess/all/${unit}/raw`)).body).toEqual({ message: "OK", queued: 5, runId: expect.any(String) });
    // a paused unit's alarm finds nothing it may do
    for (let i = 0; i < 3; i++) await runDurableObjectAlarm(unitStub(unit));
    expect(await status(unit)).toMatchObject({ paused: true, pending: 5, processed: 0 });
    expect(recorded(unit)).toEqual([]);
    expect((await call("PUT", `/reprocess/resume/${unit}`)).body).toEqual({ message: "OK" });
    expect((await status(unit)).paused).toBe(false);
    expect(await drain(unit)).toMatchObject({ pending: 0, processed: 5 });
    expect(recorded(unit, "process")).toHaveLength(5);
  });
});

describe("failed items", () => {
  async function unitWithFailures(count: number): Promise<string> {
    const unit = await createUnit({ reprocessingQueue: true, contentProcessing: false });
    await setPipelines(unit, { raw: [{ module: "Fault", settings: { failAll: true, error: "no good" } }] });
    await setSettings(unit, { maxAttempts: 1 });
    await addMany(unit, "raw", count);
    await call("POST", `/reprocess/all/${unit}/raw`);
    const s = await drain(unit);
    expect(s).toMatchObject({ failed: count, pending: 0, processed: 0 });
    return unit;
  }

  it("are listed page by page with a cursor", async () => {
    const unit = await unitWithFailures(5);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const answer = await call("GET", `/reprocess/failed/${unit}?limit=2${cursor ? `&cursor=${enc(cursor)}` : ""}`);
      expect(answer.status).toBe(200);
      expect(answer.body.message).toBe("OK");
      for (const item of answer.body.items) {
        expect(item).toEqual({ scope: "raw", key: item.key, attempts: 1, lastError: "no good", failedAt: expect.any(String) });
        expect(Number.isNaN(Date.parse(item.failedAt))).toBe(false);
        seen.push(item.key);
      }
      cursor = answer.body.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(["k000000", "k000001", "k000002", "k000003", "k000004"]);
  });

  it("rejects a bad cursor or limit with 400", async () => {
    const unit = await createUnit({ reprocessingQueue: true });
    expectError(await call("GET", `/reprocess/failed/${unit}?cursor=not-a-cursor`), 400, "INVALID_REQUEST");
    expectError(await call("GET", `/reprocess/failed/${unit}?limit=0`), 400, "INVALID_REQUEST");
    expectError(await call("GET", `/reprocess/failed/${unit}?limit=1001`), 400, "INVALID_REQUEST");
    expect((await call("GET", `/reprocess/failed/${unit}`)).body).toEqual({ message: "OK", items: [], nextCursor: null });
  });

  it("retryFailed with keys requeues only those, without keys all of them", async () => {
    const unit = await unitWithFailures(4);
    await call("PUT", `/reprocess/pause/${unit}`);
    expect((await call("POST", `/reprocess/retryFailed/${unit}`, { keys: ["k000001", "k000003", "nope"] })).body).toEqual({
      message: "OK",
      requeued: 2,
    });
    expect(await status(unit)).toMatchObject({ pending: 2, failed: 2 });
    expect((await call("POST", `/reprocess/retryFailed/${unit}`)).body).toEqual({ message: "OK", requeued: 2 });
    expect(await status(unit)).toMatchObject({ pending: 4, failed: 0 });
    expect((await call("POST", `/reprocess/retryFailed/${unit}`)).body).toEqual({ message: "OK", requeued: 0 });
    expectError(await call("POST", `/reprocess/retryFailed/${unit}`, { keys: [] }), 400, "INVALID_REQUEST");
    expectError(await call("POST", `/reprocess/retryFailed/${unit}`, { keys: ["a"], extra: 1 }), 400, "INVALID_REQUEST");
  });

  it("retried items run again with fresh attempts", async () => {
    const unit = await unitWithFailures(2);
    await setPipelines(unit, { raw: [recorder(unit)] });
    expect((await call("POST", `/reprocess/retryFailed/${unit}`)).body).toEqual({ message: "OK", requeued: 2 });
    expect(await drain(unit)).toMatchObject({ failed: 0, pending: 0, processed: 2 });
    expect(
      recorded(unit, "process")
        .map((c) => c.key)
        .sort(),
    ).toEqual(["k000000", "k000001"]);
  });

  it("purgeFailed forgets them", async () => {
    const unit = await unitWithFailures(3);
    expect((await call("POST", `/reprocess/purgeFailed/${unit}`)).body).toEqual({ message: "OK", purged: 3 });
    expect(await status(unit)).toMatchObject({ failed: 0, pending: 0 });
    expect((await call("GET", `/reprocess/failed/${unit}`)).body.items).toEqual([]);
    expect((await call("POST", `/reprocess/purgeFailed/${unit}`)).body).toEqual({ message: "OK", purged: 0 });
  });
});

describe("reprocess/purge", () => {
  it("drops pending items and leaves failed ones", async () => {
    const unit = await createUnit({ reprocessingQueue: true, contentProcessing: false });
    await setPipelines(unit, { raw: [{ module: "Fault", settings: { failKeys: ["k000000"] } }] });
    await setSettings(unit, { maxAttempts: 1 });
    await addMany(unit, "raw", 1);
    await call("POST", `/reprocess/all/${unit}/raw`);
    await drain(unit);
    await call("PUT", `/reprocess/pause/${unit}`);
    await addMany(unit, "raw", 6, "p");
    await call("POST", `/reprocess/all/${unit}/raw?prefix=p`);
    expect(await status(unit)).toMatchObject({ pending: 6, failed: 1 });
    expect((await call("POST", `/reprocess/purge/${unit}`)).body).toEqual({ message: "OK", purged: 6 });
    expect(await status(unit)).toMatchObject({ pending: 0, failed: 1, processed: 0 });
  });

  it("stops a reprocess/all that is still filling", async () => {
    const unit = await pausedUnit();
    await addMany(unit, "raw", FILL_CHUNK + 10);
    await call("POST", `/reprocess/all/${unit}/raw`);
    expect(await status(unit)).toMatchObject({ filling: true, pending: FILL_CHUNK });
    expect((await call("POST", `/reprocess/purge/${unit}`)).body).toEqual({ message: "OK", purged: FILL_CHUNK });
    expect(await status(unit)).toMatchObject({ filling: false, pending: 0 });
    await call("PUT", `/reprocess/resume/${unit}`);
    expect(await drain(unit)).toMatchObject({ processed: 0 });
    expect(recorded(unit)).toEqual([]);
  });
});
