/**
 * Admin and Security APIs on units of 1, 8 and 64 shards: unit-wide state reaches every
 * shard, counts are summed, deletion removes every shard, grants and revocations hold on
 * every shard; and a Worker whose cached layout is stale still answers right.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { shardedUnit } from "../src/shards/protocol";
import { ADMIN, ADMIN_CALL } from "../src/unit/grants";
import { call, createUnit, ndjson, uniqueUnit } from "./helpers";
import { createUser, grant } from "./security-helpers";
import { keyPerShard, shardStub, unitLayout } from "./support/shards";
import { compareBytes, type ShardLayout } from "../src/routing/layout";

const shardsOf = (shards: number) => Array.from({ length: shards }, (_, index) => index);

async function write(unit: string, keys: string[]): Promise<void> {
  const lines = keys.map((key) => ({ action: "add", scope: "raw", key, content: { key } }));
  expect((await call("POST", `/transaction/batch/${unit}`, ndjson(lines))).body).toEqual({ message: "OK", count: keys.length });
}

describe.each([1, 8, 64])("the Admin API on a unit of %i shard(s)", (shards) => {
  /** Two keys on each shard of `unit`. */
  const keysOf = async (unit: string) => {
    const layout = await unitLayout(unit);
    return [...keyPerShard(layout, "a"), ...keyPerShard(layout, "b")];
  };

  it("sums getStorageUnit over the shards and lists each shard's figures", async () => {
    const unit = await createUnit({ shards, reprocessingQueue: true, contentProcessing: false });
    const keys = await keysOf(unit);
    await call("POST", `/admin/setContentProcessingModules/${unit}`, { modules: { raw: [] } });
    await write(unit, keys);
    await call("PUT", `/reprocess/pause/${unit}`);
    expect((await call("POST", `/reprocess/all/${unit}/raw`)).body.queued).toBe(keys.length);
    const info = (await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit;
    expect(info).toMatchObject({ records: keys.length, shards, queue: { pending: keys.length, assigned: 0, failed: 0 } });
    expect(info.shardStats.map((stats: { shard: number }) => stats.shard)).toEqual(shardsOf(shards));
    for (const stats of info.shardStats) {
      expect(stats).toMatchObject({ records: 2, pending: 2, assigned: 0, failed: 0 });
      expect(stats.bytes).toBeGreaterThan(0);
    }
  });

  it("gives modules, flags, settings, schedules and pause to every shard", async () => {
    const unit = await createUnit({ shards });
    const modules = { raw: [{ module: "Noop", settings: {} }] };
    expect((await call("POST", `/admin/setContentProcessingModules/${unit}`, { modules })).body).toEqual({ message: "OK" });
    expect((await call("PUT", `/admin/enableReprocessingQueue/${unit}/true`)).body).toEqual({ message: "OK" });
    expect((await call("PUT", `/admin/enableContentProcessing/${unit}/false`)).body).toEqual({ message: "OK" });
    expect((await call("PUT", `/admin/setReprocessingSettings/${unit}`, { batchSize: 7, maxAttempts: 2 })).status).toBe(200);
    const schedules = [{ scope: "raw", cron: "0 3 * * *" }];
    expect((await call("PUT", `/admin/setReprocessSchedule/${unit}`, { schedules })).status).toBe(200);
    expect((await call("PUT", `/reprocess/pause/${unit}`)).body).toEqual({ message: "OK" });
    const first = await shardStub(unit, 0).getSchedules(ADMIN_CALL);
    for (const index of shardsOf(shards)) {
      const shard = shardStub(unit, index);
      expect(await shard.getModules(ADMIN_CALL)).toMatchObject({ modules });
      expect(await shard.info(ADMIN_CALL)).toMatchObject({
        shard: index,
        layout: { shards, splitTo: null },
        reprocessingQueue: true,
        contentProcessing: false,
        paused: true,
        settings: { batchSize: 7, maxAttempts: 2 },
      });
      expect(await shard.getSchedules(ADMIN_CALL)).toEqual(first);
    }
    expect((await call("GET", `/admin/getReprocessSchedule/${unit}`)).body.schedules).toEqual(first);
    expect((await call("PUT", `/reprocess/resume/${unit}`)).body).toEqual({ message: "OK" });
    for (const index of shardsOf(shards)) expect(await shardStub(unit, index).info(ADMIN_CALL)).toMatchObject({ paused: false });
  });

  it("removes every shard on deleteStorageUnit", async () => {
    const unit = await createUnit({ shards });
    const keys = await keysOf(unit);
    await write(unit, keys);
    expect((await call("DELETE", `/admin/deleteStorageUnit/${unit}`)).body).toEqual({ message: "OK" });
    for (const index of shardsOf(shards)) expect(await shardStub(unit, index).info(ADMIN_CALL)).toMatchObject({ error: "STORAGE_UNIT_DOESNT_EXIST" });
    for (const key of keys.slice(0, 3)) expect((await call("GET", `/access/fetch/${unit}/${key}`)).body.message).toBe("STORAGE_UNIT_DOESNT_EXIST");
    expect((await call("GET", "/admin/listStorageUnits")).body.storageUnits.map((u: { name: string }) => u.name)).not.toContain(unit);
    // made again, it starts empty
    await createUnit({ shards }, unit);
    expect((await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit.records).toBe(0);
  });

  it("honours a user's grants on the keys of every shard, and a revocation on all of them", async () => {
    const unit = await createUnit({ shards });
    const own = keyPerShard(await unitLayout(unit), "a");
    await write(unit, own);
    const user = await createUser();
    const as = { token: user.token };
    const read = async (key: string) => (await call("GET", `/access/fetch/${unit}/${key}`, undefined, as)).status;
    const writeOne = async (key: string) => (await call("PUT", `/transaction/add/${unit}/raw`, { key, content: { by: "user" } }, as)).status;
    await grant("r", user.name, unit);
    for (const key of own) expect([key, await read(key), await writeOne(key)]).toEqual([key, 200, 403]);
    expect((await call("GET", `/access/fetchPage/${unit}?batchSize=1000`, undefined, as)).body.records).toHaveLength(shards);
    await grant("rw", user.name, unit);
    for (const key of own) expect([key, await writeOne(key)]).toEqual([key, 200]);
    expect((await call("DELETE", `/security/remove/${user.name}/${unit}`)).body).toEqual({ message: "OK" });
    for (const key of own) expect([key, await read(key), await writeOne(key)]).toEqual([key, 403, 403]);
    expect((await call("GET", `/access/fetchPage/${unit}`, undefined, as)).status).toBe(403);
    expect((await call("GET", `/reprocess/status/${unit}`, undefined, as)).status).toBe(403);
  });
});

describe("a Worker whose cached layout of a unit is stale", () => {
  /** Deletes the unit and makes it again with `shards` shards straight on its objects, as another isolate would: this isolate's cache still holds the old layout. */
  async function remakeBehindTheCache(unit: string, before: number, shards: number): Promise<void> {
    for (const index of shardsOf(before).reverse()) expect(await shardStub(unit, index).destroy(ADMIN_CALL)).toEqual({ name: unit });
    const layout = { shards, splitTo: null };
    const options = { contentProcessing: true, reprocessingQueue: true, shards };
    for (const index of shardsOf(shards).reverse())
      expect(await shardStub(unit, index).create(unit, options, index, layout)).toHaveProperty("createdAt");
    // a pipeline for raw, so the reprocess call below is accepted; once every shard is laid, as shard 0's creation lays the others anew
    for (const index of shardsOf(shards))
      expect(await shardStub(unit, index).setModules(ADMIN_CALL, { modules: { raw: [] }, settings: {} })).toEqual({ ok: true });
  }

  for (const shards of [1, 4]) {
    it(`answers right after the unit was made again with ${shards} shard(s) instead of 8`, async () => {
      const unit = uniqueUnit("stale");
      await createUnit({ shards: 8 }, unit);
      const old = await unitLayout(unit);
      const keys = keyPerShard(old, "k");
      await write(unit, keys);
      expect((await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit.shards).toBe(8);
      await remakeBehindTheCache(unit, 8, shards);

      // a write by key first, to shard 7 of the old layout, which the new one lacks (shard 0 would answer MOVED)
      const stale = keyPerShard(old, "m").reverse();
      for (const key of stale) expect((await call("PUT", `/transaction/add/${unit}/raw`, { key, content: { key } })).body).toEqual({ message: "OK" });
      const info = (await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit;
      expect(info).toMatchObject({ shards, records: stale.length });
      expect(info.shardStats).toHaveLength(shards);
      for (const key of stale) expect((await call("GET", `/access/fetch/${unit}/${key}`)).body.content).toEqual({ raw: { key } });
      expect((await call("GET", `/access/fetch/${unit}/${keys[5]}`)).body.message).toBe("KEY_NOT_FOUND");
      const page = await call("GET", `/access/fetchPage/${unit}?batchSize=100`);
      expect(page.body.records.map((record: { key: string }) => record.key)).toEqual([...stale].sort(compareBytes));
    });
  }

  it("routes a batch, fetchMultiple, a fan-out and a user's call by the new layout", async () => {
    // keys of the old layout of 8 shards, the one the Worker still routes by
    const calls: Array<(unit: string, old: ShardLayout) => Promise<unknown>> = [
      async (unit, old) =>
        expect(
          (
            await call(
              "POST",
              `/transaction/batch/${unit}`,
              ndjson(keyPerShard(old, "n").map((key) => ({ action: "add", scope: "raw", key, content: {} }))),
            )
          ).body,
        ).toEqual({ message: "OK", count: 8 }),
      async (unit) =>
        expect((await call("POST", `/access/fetchMultiple/${unit}`, { keys: ["x", "y"] })).body).toEqual({ message: "OK", records: [] }),
      async (unit) => expect((await call("GET", `/reprocess/status/${unit}`)).body).toMatchObject({ message: "OK", pending: 0 }),
      async (unit, old) =>
        expect((await call("POST", `/reprocess/keys/${unit}/raw`, { keys: keyPerShard(old, "q") })).body).toMatchObject({ queued: 0 }),
      async (unit, old) => {
        const user = await createUser();
        await grant("rw", user.name, unit);
        for (const key of keyPerShard(old, "u"))
          expect((await call("PUT", `/transaction/add/${unit}/raw`, { key, content: {} }, { token: user.token })).status).toBe(200);
      },
    ];
    for (const [n, run] of calls.entries()) {
      for (const shards of [1, 4]) {
        const unit = uniqueUnit(`stale${n}`);
        await createUnit({ shards: 8 }, unit);
        const old = await unitLayout(unit);
        await remakeBehindTheCache(unit, 8, shards);
        await run(unit, old);
        expect((await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit.shards).toBe(shards);
      }
    }
  });

  it("visits every shard on the cron's tick", async () => {
    const unit = uniqueUnit("stale-cron");
    await createUnit({ shards: 2 }, unit);
    // the scheduled handler imported here has its own copy of the layout cache: teach it 2 shards
    expect(await shardedUnit(env, unit).info(ADMIN)).toMatchObject({ shards: 2 });
    await remakeBehindTheCache(unit, 2, 8);
    const schedules = [{ scope: "raw", cron: "* * * * *" }];
    const now = Date.now();
    for (const [index, key] of keyPerShard(await unitLayout(unit), "c").entries()) {
      const shard = shardStub(unit, index);
      expect(await shard.setPaused(ADMIN_CALL, true)).toEqual({ ok: true });
      // written before the pipeline exists, so only the schedule's run queues it
      expect(await shard.add(ADMIN_CALL, "raw", { key, contentJson: "{}", policy: "merge" })).toEqual({ ok: true });
      expect(await shard.setModules(ADMIN_CALL, { modules: { raw: [{ module: "Noop", settings: {} }] }, settings: {} })).toEqual({ ok: true });
      expect(await shard.setSchedules(ADMIN_CALL, schedules, now)).toEqual([expect.objectContaining({ scope: "raw" })]);
    }
    const controller = createScheduledController({ scheduledTime: now + 2 * 60_000, cron: "* * * * *" });
    const ctx = createExecutionContext();
    await worker.scheduled(controller, env as never, ctx);
    await waitOnExecutionContext(ctx);
    for (const index of shardsOf(8)) expect([index, await shardStub(unit, index).status(ADMIN_CALL)]).toMatchObject([index, { pending: 1 }]);
  });
});
