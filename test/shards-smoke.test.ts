/**
 * A unit of 8 shards through HTTP in the Workers runtime, one test per route group (the
 * matrices of every route on 1, 8 and 64 shards run in Node: the `shards` project of
 * vitest.e2e.config.ts): the records spread and the unit reads as one; the admin's changes
 * reach every shard; reprocessing queues and drains on every shard; a user's grant holds on
 * every shard. Runs across shards: runs-across-shards.test.ts.
 */
import { describe, expect, it } from "vitest";
import { call, createUnit, enc, ndjson } from "./helpers";
import { compareBytes } from "../src/routing/layout";
import { ADMIN_CALL } from "../src/unit/grants";
import { recorded, recorder, setPipelines, status } from "./queue-helpers";
import { createUser, grant } from "./security-helpers";
import { drainShards, keyPerShard, shardStub, unitLayout } from "./support/shards";

const SHARDS = 8;

async function writeKeys(unit: string, keys: string[]): Promise<void> {
  const answer = await call(
    "POST",
    `/transaction/batch/${unit}`,
    ndjson(keys.map((key) => ({ action: "add", scope: "raw", key, content: { key } }))),
  );
  expect(answer.body).toEqual({ message: "OK", count: keys.length });
}

describe("a unit of 8 shards", () => {
  it("spreads records over its shards and pages through them in byte order", async () => {
    const unit = await createUnit({ shards: 8 });
    const keys = Array.from({ length: 300 }, (_, i) => `k${i}`);
    const batch = await call(
      "POST",
      `/transaction/batch/${unit}`,
      ndjson(keys.map((key) => ({ action: "add", scope: "raw", key, content: { key } }))),
    );
    expect(batch.body).toEqual({ message: "OK", count: 300 });
    const info = await call("GET", `/admin/getStorageUnit/${unit}`);
    expect(info.body.storageUnit.records).toBe(300);
    expect(info.body.storageUnit.shards).toBe(8);
    expect(info.body.storageUnit.shardStats).toHaveLength(8);
    for (const stats of info.body.storageUnit.shardStats) expect(stats.records).toBeGreaterThan(10);
    const seen: string[] = [];
    let startId: string | undefined;
    do {
      const page = await call("GET", `/access/fetchPage/${unit}?batchSize=70${startId ? `&startId=${startId}` : ""}`);
      seen.push(...page.body.records.map((record: { key: string }) => record.key));
      startId = page.body.nextStartId;
    } while (startId);
    expect(seen).toEqual([...keys].sort(compareBytes));
    const many = await call("POST", `/access/fetchMultiple/${unit}`, { keys: ["k5", "k200", "nope", "k1"] });
    expect(many.body.records.map((record: { key: string }) => record.key)).toEqual(["k5", "k200", "k1"]);
    expect((await call("GET", `/access/fetch/${unit}/k42`)).body.content.raw).toEqual({ key: "k42" });
    expect((await call("DELETE", `/admin/deleteStorageUnit/${unit}`)).status).toBe(200);
    expect((await call("GET", `/access/fetch/${unit}/k42`)).status).toBe(404);
  });

  it("refuses a shard count that is not a power of two from 1 to 256", async () => {
    for (const shards of [0, 3, 512, 1.5]) {
      const answer = await call("PUT", `/admin/createStorageUnit/bad-${shards === 1.5 ? "half" : shards}`, { shards });
      expect(answer.status).toBe(400);
      expect(answer.body.detail).toContain("power of two");
    }
  });

  it("gives the admin's modules, settings and pause to every shard", async () => {
    const unit = await createUnit({ shards: SHARDS, reprocessingQueue: true });
    expect((await call("POST", `/admin/setContentProcessingModules/${unit}`, { modules: { raw: [{ module: "Noop" }] } })).status).toBe(200);
    expect((await call("PUT", `/admin/setReprocessingSettings/${unit}`, { maxAttempts: 7 })).status).toBe(200);
    expect((await call("PUT", `/reprocess/pause/${unit}`)).status).toBe(200);
    for (let index = 0; index < SHARDS; index++) {
      const shard = shardStub(unit, index);
      expect(await shard.getModules(ADMIN_CALL)).toMatchObject({ modules: { raw: [{ module: "Noop" }] } });
      expect(await shard.status(ADMIN_CALL)).toMatchObject({ paused: true });
      expect(await shard.info(ADMIN_CALL)).toMatchObject({ settings: { maxAttempts: 7 } });
    }
  });

  it("queues reprocess/keys and reprocess/all on the keys' shards and drains every shard", async () => {
    const unit = await createUnit({ shards: SHARDS, reprocessingQueue: true, contentProcessing: false });
    const keys = keyPerShard(await unitLayout(unit), "r");
    await writeKeys(unit, keys);
    await setPipelines(unit, { raw: [recorder(unit)] });
    expect((await call("POST", `/reprocess/keys/${unit}/raw`, { keys: [...keys, "nope"] })).body).toMatchObject({
      queued: SHARDS,
      missing: ["nope"],
    });
    expect(await status(unit)).toMatchObject({ pending: SHARDS });
    await drainShards(unit, SHARDS);
    expect((await call("POST", `/reprocess/all/${unit}/raw`)).body.queued).toBe(SHARDS);
    await drainShards(unit, SHARDS);
    expect(await status(unit)).toMatchObject({ pending: 0, failed: 0, processed: 2 * SHARDS });
    const processed = recorded(unit, "process").map((entry) => entry.key ?? "");
    expect(processed.sort(compareBytes)).toEqual([...keys, ...keys].sort(compareBytes));
  });

  it("holds a user's grant on every shard, and a revocation on every shard", async () => {
    const unit = await createUnit({ shards: SHARDS });
    const keys = keyPerShard(await unitLayout(unit), "g");
    await writeKeys(unit, keys);
    const user = await createUser();
    const as = { token: user.token };
    await grant("r", user.name, unit);
    for (const key of keys) expect([key, (await call("GET", `/access/fetch/${unit}/${enc(key)}`, undefined, as)).status]).toEqual([key, 200]);
    expect((await call("PUT", `/transaction/add/${unit}/raw`, { key: keys[3], content: {} }, as)).status).toBe(403);
    expect((await call("DELETE", `/security/remove/${user.name}/${unit}`)).status).toBe(200);
    for (const key of keys) expect([key, (await call("GET", `/access/fetch/${unit}/${enc(key)}`, undefined, as)).status]).toEqual([key, 403]);
  });
});
