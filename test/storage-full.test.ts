/**
 * 507 STORAGE_FULL (API.md, "Sharded storage units"): a write a shard cannot store is
 * refused with nothing of it applied. This file runs in the `storage-full` project of
 * vitest.config.ts, where RESTAGE_SHARD_MAX_BYTES caps each shard at 512 KiB.
 */
import { describe, expect, it } from "vitest";
import { call, createUnit, ndjson } from "./helpers";
import { drain, failedItems, fetchScope, setModules, setReprocessing, status } from "./support/modules";
import { keyPerShard, keysOnShard, unitLayout } from "./support/shards";

/** RESTAGE_SHARD_MAX_BYTES as vitest.config.ts sets it for this file */
const CAP = 512 * 1024 + 2048;
const FULL_DETAIL = new RegExp(
  `^the storage unit's shard is full: it stores \\d+ bytes of the ${CAP} that RESTAGE_SHARD_MAX_BYTES allows.*Delete records`,
);

/** Content of about `bytes` as JSON. */
const blob = (bytes: number, tag = "") => ({ tag, text: "x".repeat(bytes) });

/** Adds 38 KB records `k0`, `k1`, ... until the unit refuses one; returns the keys stored and the refusal. */
async function fill(unit: string): Promise<{ stored: string[]; refused: { key: string; body: Record<string, unknown> } }> {
  const stored: string[] = [];
  for (let n = 0; n < 100; n++) {
    const key = `k${n}`;
    const answer = await call("PUT", `/transaction/add/${unit}/raw`, { key, content: blob(38_000, key) });
    if (answer.status === 507) return { stored, refused: { key, body: answer.body } };
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    stored.push(key);
  }
  throw new Error(`the unit never filled up: is RESTAGE_SHARD_MAX_BYTES ${CAP} set for this file?`);
}

describe("a full shard", () => {
  it("refuses an add with 507, stores nothing of it, and keeps serving reads and status", async () => {
    const unit = await createUnit();
    const { stored, refused } = await fill(unit);
    expect(stored.length).toBeGreaterThan(5);
    expect(refused.body).toEqual({ message: "STORAGE_FULL", detail: expect.stringMatching(FULL_DETAIL) });
    expect((await call("GET", `/access/fetch/${unit}/${refused.key}`)).status).toBe(404);
    // what was stored before is all there
    const page = await call("GET", `/access/fetchMultiple/${unit}?keys=${stored.join(",")}`);
    expect(page.body.records.map((record: { key: string }) => record.key)).toEqual(stored);
    expect((await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit).toMatchObject({ records: stored.length });
    expect(await status(unit)).toMatchObject({ failed: 0 });
    // a small write still fits
    expect((await call("PUT", `/transaction/add/${unit}/raw`, { key: "small", content: { a: 1 } })).status).toBe(200);
  });

  it("accepts deletes, which make room for the write it refused", async () => {
    const unit = await createUnit();
    const { stored, refused } = await fill(unit);
    expect((await call("POST", `/transaction/execute/${unit}/$record`, { key: stored[0], action: "delete", policy: "mustexist" })).body).toEqual({
      message: "OK",
    });
    // a delete of a scope never written leaves a tombstone: a write too, still accepted
    expect((await call("POST", `/transaction/execute/${unit}/other`, { key: "never-written", action: "delete" })).status).toBe(200);
    expect((await call("POST", `/transaction/execute/${unit}/$record`, { key: stored[1], action: "delete" })).status).toBe(200);
    const retried = await call("PUT", `/transaction/add/${unit}/raw`, { key: refused.key, content: blob(40_000, refused.key) });
    expect(retried.body).toEqual({ message: "OK" });
    expect((await fetchScope(unit, refused.key, "raw"))?.tag).toBe(refused.key);
  });

  it("refuses in a batch only the lines that do not fit, each with STORAGE_FULL; a batch of which nothing fits is 507", async () => {
    const unit = await createUnit();
    const lines = Array.from({ length: 20 }, (_, n) => ({
      action: "add",
      scope: "raw",
      key: `b${String(n).padStart(2, "0")}`,
      content: blob(40_000),
    }));
    const answer = await call("POST", `/transaction/batch/${unit}`, ndjson(lines));
    expect(answer.status).toBe(200);
    expect(answer.body.message).toBe("COMPLETED_WITH_ERRORS");
    const applied: number = answer.body.count;
    expect(applied).toBeGreaterThan(5);
    expect(applied).toBeLessThan(lines.length);
    // the lines applied are the first ones, the rest each refused
    expect(answer.body.errors).toEqual(
      lines
        .slice(applied)
        .map((line, i) => ({ line: applied + i + 1, key: line.key, error: "STORAGE_FULL", detail: expect.stringMatching(FULL_DETAIL) })),
    );
    const page = await call("GET", `/access/fetchPage/${unit}?batchSize=100`);
    expect(page.body.records.map((record: { key: string }) => record.key)).toEqual(lines.slice(0, applied).map((line) => line.key));

    const again = await call("POST", `/transaction/batch/${unit}`, ndjson([{ action: "add", scope: "raw", key: "late", content: blob(40_000) }]));
    expect(again.status).toBe(507);
    expect(again.body).toEqual({ message: "STORAGE_FULL", detail: expect.stringMatching(FULL_DETAIL) });
    expect((await call("GET", `/access/fetch/${unit}/late`)).status).toBe(404);

    // deletes in a batch are applied on a full shard, and the adds after them fit again
    const freed = await call(
      "POST",
      `/transaction/batch/${unit}`,
      ndjson([
        { action: "delete", scope: "raw", key: "b00" },
        { action: "delete", scope: "raw", key: "b01" },
        { action: "add", scope: "raw", key: "late", content: blob(40_000) },
      ]),
    );
    expect(freed.body).toEqual({ message: "OK", count: 3 });
  });

  it("fails a module's write that does not fit, with the reason, while reprocessing keeps running", async () => {
    const unit = await createUnit({ contentProcessing: true, reprocessingQueue: true });
    await setReprocessing(unit, { maxAttempts: 1 });
    await setModules(unit, { raw: [{ module: "ScopeWriter", settings: { scope: "index" } }] });
    // the raw scope fits; its copy into index, as large again, does not
    expect((await call("PUT", `/transaction/add/${unit}/raw`, { key: "big", content: blob(240_000) })).status).toBe(200);
    await drain(unit);
    expect(await fetchScope(unit, "big", "index")).toBeUndefined();
    const [failed] = await failedItems(unit);
    expect(failed).toMatchObject({ scope: "raw", key: "big", attempts: 1 });
    expect(failed!.lastError).toMatch(/^ScopeWriter: the storage unit's shard is full: .*RESTAGE_SHARD_MAX_BYTES/);
    // reprocessing still runs on the full unit: a small record goes through its pipeline
    expect((await call("PUT", `/transaction/add/${unit}/raw`, { key: "small", content: { a: 1 } })).status).toBe(200);
    expect((await call("POST", `/reprocess/key/${unit}/small/raw`)).status).toBe(200);
    await drain(unit);
    expect(await fetchScope(unit, "small", "index")).toEqual({ a: 1 });
    expect(await status(unit)).toMatchObject({ pending: 0, failed: 1 });
  });
});

describe("a full shard of a unit of 8 shards", () => {
  it("refuses writes to its keys with 507 and nothing applied, while the other shards still accept", async () => {
    const unit = await createUnit({ shards: 8 });
    const layout = await unitLayout(unit);
    const full = keysOnShard(layout, 3, 30, "f");
    let refused: string | undefined;
    for (const key of full) {
      const answer = await call("PUT", `/transaction/add/${unit}/raw`, { key, content: blob(40_000, key) });
      if (answer.status === 507) {
        expect(answer.body).toEqual({ message: "STORAGE_FULL", detail: expect.stringMatching(FULL_DETAIL) });
        refused = key;
        break;
      }
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    }
    expect(refused, "shard 3 never filled up").toBeDefined();
    expect((await call("GET", `/access/fetch/${unit}/${refused}`)).status).toBe(404);

    // every other shard takes a record as large
    const others = keyPerShard(layout, "o").filter((_, index) => index !== 3);
    for (const key of others)
      expect((await call("PUT", `/transaction/add/${unit}/raw`, { key, content: blob(40_000, key) })).body).toEqual({ message: "OK" });

    // a batch over every shard: the full shard's lines refused, the others applied
    const lines = [...keyPerShard(layout, "p").map((key) => ({ action: "add", scope: "raw", key, content: blob(40_000) }))];
    const answer = await call("POST", `/transaction/batch/${unit}`, ndjson(lines));
    expect(answer.body).toEqual({
      message: "COMPLETED_WITH_ERRORS",
      count: 7,
      errors: [{ line: 4, key: lines[3]!.key, error: "STORAGE_FULL", detail: expect.stringMatching(FULL_DETAIL) }],
    });
    expect((await call("GET", `/access/fetch/${unit}/${lines[3]!.key}`)).status).toBe(404);
    // a batch only for the full shard is 507 whole
    const alone = await call("POST", `/transaction/batch/${unit}`, ndjson([{ action: "add", scope: "raw", key: full[29], content: blob(40_000) }]));
    expect(alone.status).toBe(507);

    const info = (await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit;
    expect(info.shardStats[3].bytes).toBeGreaterThan(CAP - 60_000);
    for (const stats of info.shardStats.filter((_: unknown, index: number) => index !== 3)) expect(stats.bytes).toBeLessThan(CAP / 2);
  });
});
