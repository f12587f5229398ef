/**
 * The races of a split's and a creation's start (issue 21 rows 1, 2, 5, 9; the shard
 * protocol's "found by reading" list): shard 0 holds a lock that a second split or creation
 * meets, a unit-wide change made while a split starts reaches the new shards, a split
 * always ends, and MOVED stays inside the Worker.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { cachedLayout } from "../src/routing/router";
import { ADMIN_CALL } from "../src/unit/grants";
import { migrate } from "../src/unit/migrations";
import type { Sql } from "../src/unit/sql";
import type { StorageUnit } from "../src/unit/storage-unit";
import { call, createUnit, uniqueUnit } from "./helpers";
import { addMany, status } from "./queue-helpers";
import { createUser, grant } from "./security-helpers";
import { driveSplit, shardStub } from "./split-helpers";

/** Which of shards 0..count-1 of `unit` exist as objects of a unit. */
async function existing(unit: string, count: number): Promise<number[]> {
  const found: number[] = [];
  for (let index = 0; index < count; index++) if (!("error" in (await shardStub(unit, index).info(ADMIN_CALL)))) found.push(index);
  return found;
}

describe("a split's start", () => {
  it("takes a lock on shard 0: of two splits sent at once with different counts, the second answers 409 with Retry-After: 5, and the first ends", async () => {
    const unit = await createUnit({ shards: 2, reprocessingQueue: true });
    const keys = await addMany(unit, "raw", 300);
    const [a, b] = await Promise.all([
      call("PUT", `/admin/splitStorageUnit/${unit}`, { shards: 16 }),
      call("PUT", `/admin/splitStorageUnit/${unit}`, { shards: 4 }),
    ]);
    const answers = [a, b].map((answer) => answer.status).sort();
    expect(answers).toEqual([200, 409]);
    const refused = a.status === 409 ? a : b;
    expect(refused.body.message).toBe("STORAGE_UNIT_SPLITTING");
    expect(refused.headers.get("retry-after")).toBe("5");
    const to = a.status === 200 ? 16 : 4;
    await driveSplit(unit, to);
    expect((await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit).toMatchObject({
      shards: to,
      splitting: null,
      records: keys.length,
    });
    for (const key of keys.filter((_, index) => index % 29 === 0)) expect((await call("GET", `/access/fetch/${unit}/${key}`)).status).toBe(200);
  });

  it("gives a revocation sent while the split starts to every new shard: the revoked token reads nothing afterwards", async () => {
    const unit = await createUnit({ shards: 2, reprocessingQueue: true });
    const keys = await addMany(unit, "raw", 200);
    const user = await createUser();
    await grant("r", user.name, unit);
    const as = { token: user.token };
    expect((await call("GET", `/access/fetch/${unit}/${keys[0]}`, undefined, as)).status).toBe(200);
    const [split, revoke] = await Promise.all([
      call("PUT", `/admin/splitStorageUnit/${unit}`, { shards: 32 }),
      call("DELETE", `/security/remove/${user.name}/${unit}`),
    ]);
    expect([split.status, revoke.status]).toEqual([200, 200]);
    // right after the revocation's OK, and after the split: no shard lets the token read
    for (const key of keys.filter((_, index) => index % 7 === 0))
      expect((await call("GET", `/access/fetch/${unit}/${key}`, undefined, as)).status).toBe(403);
    for (let index = 0; index < 32; index++)
      expect(
        await runInDurableObject(shardStub(unit, index), (_i: StorageUnit, state) => state.storage.sql.exec("SELECT * FROM grants").toArray()),
      ).toEqual([]);
    await driveSplit(unit, 32);
    for (const key of keys.filter((_, index) => index % 7 === 0))
      expect((await call("GET", `/access/fetch/${unit}/${key}`, undefined, as)).status).toBe(403);
  });

  it("gives a token rotation and a module change sent while the split starts to every new shard", async () => {
    const unit = await createUnit({ shards: 2, reprocessingQueue: true });
    const keys = await addMany(unit, "raw", 200);
    const user = await createUser();
    await grant("r", user.name, unit);
    const modules = { modules: { raw: [{ module: "ScopeWriter", settings: { scope: "copy" } }] } };
    const [split, rotated, set] = await Promise.all([
      call("PUT", `/admin/splitStorageUnit/${unit}`, { shards: 32 }),
      call("PUT", `/security/user/${user.name}`),
      call("POST", `/admin/setContentProcessingModules/${unit}`, modules),
    ]);
    expect([split.status, rotated.status, set.status]).toEqual([200, 200, 200]);
    const token = rotated.body.token as string;
    await driveSplit(unit, 32);
    for (const key of keys.filter((_, index) => index % 5 === 0)) {
      expect([401, 403]).toContain((await call("GET", `/access/fetch/${unit}/${key}`, undefined, { token: user.token })).status);
      expect((await call("GET", `/access/fetch/${unit}/${key}`, undefined, { token })).status).toBe(200);
    }
    const stored = await shardStub(unit, 0).getModules(ADMIN_CALL);
    expect(stored).toMatchObject(modules);
    for (let index = 1; index < 32; index++) expect(await shardStub(unit, index).getModules(ADMIN_CALL)).toEqual(stored);
  });

  it("cut short after shard 0 took its lock is finished by shard 0's alarm, and then ends", async () => {
    const unit = await createUnit({ shards: 2, reprocessingQueue: true });
    const keys = await addMany(unit, "raw", 100);
    // what a crash right after the lock leaves: shard 0's split row and its alarm, nothing laid or told
    await runInDurableObject(shardStub(unit, 0), async (_instance: StorageUnit, state) => {
      state.storage.sql.exec("INSERT INTO split (id, split_to, total, laid) VALUES (1, 8, 0, 0)");
      await state.storage.setAlarm(Date.now());
    });
    const again = await call("PUT", `/admin/splitStorageUnit/${unit}`, { shards: 4 });
    expect(again.status).toBe(409);
    await runDurableObjectAlarm(shardStub(unit, 0));
    expect((await status(unit)).splitting).toMatchObject({ from: 2, to: 8 });
    await driveSplit(unit, 8);
    expect((await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit).toMatchObject({ shards: 8, records: keys.length });
  });

  it("never takes a report of a split that shard 0 has not recorded as heard: the old shard says it again", async () => {
    const unit = await createUnit({ shards: 2 });
    const early = await shardStub(unit, 0).splitting(ADMIN_CALL, { op: "report", shard: 1, to: 4 });
    expect(early).toMatchObject({ error: "INVALID_REQUEST" });
  });
});

describe("a unit's creation", () => {
  it("takes a lock on shard 0: of two creations with different counts, one wins, the other answers 409, and deleteStorageUnit leaves no shard", async () => {
    const unit = uniqueUnit("twice");
    const [a, b] = await Promise.all([
      call("PUT", `/admin/createStorageUnit/${unit}`, { shards: 4 }),
      call("PUT", `/admin/createStorageUnit/${unit}`, { shards: 64 }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const shards = a.status === 200 ? 4 : 64;
    expect((await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit).toMatchObject({ shards });
    expect(await existing(unit, 64)).toEqual(Array.from({ length: shards }, (_, index) => index));
    expect((await call("GET", `/reprocess/status/${unit}`)).status).toBe(200);
    expect((await call("DELETE", `/admin/deleteStorageUnit/${unit}`)).status).toBe(200);
    expect(await existing(unit, 64)).toEqual([]);
  });

  it("cut short is cleaned up by the next one: shards laid beyond its count are removed", async () => {
    const unit = uniqueUnit("cut");
    // what a creation of 8 that died before shard 0 leaves: shards 1..7 and the note on shard 0
    for (let index = 1; index < 8; index++)
      await shardStub(unit, index).create(unit, { contentProcessing: true, reprocessingQueue: true }, index, { shards: 8, splitTo: null });
    await runInDurableObject(shardStub(unit, 0), (instance: StorageUnit, state) => {
      migrate((instance as unknown as { parts: { sql: Sql } }).parts.sql);
      state.storage.sql.exec("INSERT INTO creating (id, shards) VALUES (1, 8)");
    });
    expect((await call("PUT", `/admin/createStorageUnit/${unit}`, { shards: 2 })).status).toBe(200);
    expect(await existing(unit, 8)).toEqual([0, 1]);
  });
});

describe("MOVED", () => {
  it("never reaches a client while a split starts and ends, and a refusal on one shard leaves the Worker's layout in place", async () => {
    const unit = await createUnit({ shards: 2, reprocessingQueue: true });
    const keys = await addMany(unit, "raw", 200);
    expect((await call("PUT", `/admin/splitStorageUnit/${unit}`, { shards: 8 })).status).toBe(200);
    const seen = new Set<number>();
    for (let round = 0; (await status(unit)).splitting !== null; round++) {
      for (let index = 0; index < 8; index++) await runDurableObjectAlarm(shardStub(unit, index));
      for (const key of keys.filter((_, index) => index % 40 === round % 40)) seen.add((await call("GET", `/access/fetch/${unit}/${key}`)).status);
      seen.add((await call("GET", `/admin/getStorageUnit/${unit}`)).status);
    }
    expect([...seen]).toEqual([200]);
    const layout = cachedLayout(unit);
    expect(layout).toMatchObject({ shards: 8, splitTo: null });
    const stranger = await createUser();
    expect((await call("GET", `/access/fetch/${unit}/${keys[3]}`, undefined, { token: stranger.token })).status).toBe(403);
    expect(cachedLayout(unit)).toEqual(layout);
  });
});
