/** Where state lives: one unit per object, isolated from the others, and kept across evictions. */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { StorageUnit } from "../src/unit/storage-unit";
import { addRecord, call, createUnit, uniqueUnit, unitStub } from "./helpers";

describe("isolation", () => {
  it("keeps two units apart: the same key holds different records, and deletes stay in their unit", async () => {
    const first = await createUnit();
    const second = await createUnit({ contentProcessing: false });
    await addRecord(first, "raw", { key: "k", content: { unit: 1 }, version: 100 });
    await addRecord(second, "raw", { key: "k", content: { unit: 2 }, version: 1 });
    await addRecord(second, "raw", { key: "only-second", content: {} });
    expect((await call("GET", `/access/fetch/${first}/k`)).body.content.raw).toEqual({ unit: 1 });
    expect((await call("GET", `/access/fetch/${second}/k`)).body.content.raw).toEqual({ unit: 2 });
    expect((await call("GET", `/access/fetch/${first}/only-second`)).status).toBe(404);

    await call("PUT", `/transaction/execute/${second}/$record`, { key: "k", action: "delete" });
    expect((await call("GET", `/access/fetch/${first}/k`)).status).toBe(200);
    expect((await call("GET", `/access/fetchPage/${first}`)).body.records.map((record: { key: string }) => record.key)).toEqual(["k"]);
  });

  it("keeps configuration per unit", async () => {
    const first = await createUnit();
    const second = await createUnit();
    await call("POST", `/admin/setContentProcessingModules/${first}`, { modules: { raw: [{ module: "Noop" }] } });
    await call("PUT", `/admin/setReprocessingSettings/${first}`, { workers: 1 });
    await call("PUT", `/admin/enableReprocessingQueue/${first}/true`);
    const other = (await call("GET", `/admin/getStorageUnit/${second}`)).body.storageUnit;
    expect(other).toMatchObject({ reprocessingQueue: false, settings: { workers: 4 } });
    expect((await call("GET", `/admin/getContentProcessingModules/${second}`)).body.modules).toEqual({});
  });

  it("deleting one unit leaves the other whole", async () => {
    const kept = await createUnit();
    const dropped = await createUnit();
    await addRecord(kept, "raw", { key: "k", content: {} });
    await addRecord(dropped, "raw", { key: "k", content: {} });
    await call("DELETE", `/admin/deleteStorageUnit/${dropped}`);
    expect((await call("GET", `/access/fetch/${kept}/k`)).status).toBe(200);
    expect((await call("GET", "/admin/listStorageUnits")).body.storageUnits.map((unit: { name: string }) => unit.name)).toContain(kept);
  });
});

describe("durability", () => {
  it("keeps records, versions, tombstones, flags, settings, modules and queued items across an eviction", async () => {
    const unit = await createUnit({ reprocessingQueue: true });
    await call("POST", `/admin/setContentProcessingModules/${unit}`, { modules: { index: [{ module: "Recorder", settings: { tag: unit } }] } });
    await call("PUT", `/admin/setReprocessingSettings/${unit}`, { batchSize: 3, maxItemsPerSecond: 10 });
    await call("PUT", `/admin/enableContentProcessing/${unit}/false`);
    await addRecord(unit, "raw", { key: "a", content: { n: 1 }, version: 10 });
    await addRecord(unit, "raw", { key: "b", content: { n: 2 }, version: 10 });
    await call("PUT", `/transaction/execute/${unit}/raw`, { key: "b", action: "delete", version: 20 });
    await call("PUT", `/admin/enableContentProcessing/${unit}/true`);
    // paused, so the queued item waits for the comparison instead of being processed by the alarm
    await call("PUT", `/reprocess/pause/${unit}`);
    await addRecord(unit, "index", { key: "a", content: { i: 1 }, version: 30 });
    const before = (await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit;
    expect(before.queue.pending).toBe(1);

    await evictDurableObject(unitStub(unit));

    const after = (await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit;
    expect(after).toEqual(before);
    expect(after).toMatchObject({
      contentProcessing: true,
      reprocessingQueue: true,
      paused: true,
      records: 1,
      settings: { batchSize: 3, maxItemsPerSecond: 10 },
    });
    expect((await call("GET", `/admin/getContentProcessingModules/${unit}`)).body.modules).toEqual({
      index: [{ module: "Recorder", settings: { tag: unit } }],
    });
    const record = (await call("GET", `/access/fetch/${unit}/a`)).body;
    expect(record.content).toEqual({ raw: { n: 1 }, index: { i: 1 } });
    expect(record.meta.raw.version).toBe(10);
    // the tombstone survived: an older write still cannot bring b back
    const stale = await call("PUT", `/transaction/add/${unit}/raw`, { key: "b", content: {}, version: 15 });
    expect(stale.body.message).toBe("NEWER_VERSION_ALREADY_EXISTS");
    expect((await call("GET", "/admin/listStorageUnits")).body.storageUnits.map((entry: { name: string }) => entry.name)).toContain(unit);
  });

  it("a unit deleted and evicted stays deleted, and can be created again empty", async () => {
    const unit = await createUnit();
    await addRecord(unit, "raw", { key: "k", content: {} });
    await call("DELETE", `/admin/deleteStorageUnit/${unit}`);
    await evictDurableObject(unitStub(unit));
    expect((await call("GET", `/access/fetch/${unit}/k`)).body.message).toBe("STORAGE_UNIT_DOESNT_EXIST");
    await createUnit({}, unit);
    await evictDurableObject(unitStub(unit));
    expect((await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit.records).toBe(0);
    expect((await call("GET", `/access/fetch/${unit}/k`)).body.message).toBe("KEY_NOT_FOUND");
  });

  it("records each schema migration once, by number, across restarts and a re-creation", async () => {
    const unit = await createUnit();
    const applied = () =>
      runInDurableObject(unitStub(unit), (_instance: StorageUnit, state) =>
        state.storage.sql
          .exec<{ id: number }>("SELECT id FROM _migrations ORDER BY id")
          .toArray()
          .map((row) => row.id),
      );
    const first = await applied();
    expect(first.length).toBeGreaterThan(0);
    expect(first).toEqual([...first].sort((a, b) => a - b));
    expect(first[0]).toBe(1);
    await evictDurableObject(unitStub(unit));
    expect(await applied()).toEqual(first);
    await call("DELETE", `/admin/deleteStorageUnit/${unit}`);
    await createUnit({}, unit);
    expect(await applied()).toEqual(first);
  });
});

describe("objects of units that were never created", () => {
  it("a request naming a unit that does not exist leaves no schema in its object", async () => {
    const name = uniqueUnit("ghost");
    const answer = await call("GET", `/access/fetch/${name}/k`, undefined, { token: `rs_${"A".repeat(43)}` });
    expect(answer.status).toBe(401);
    expect((await call("GET", `/reprocess/status/${name}`)).status).toBe(404);
    const tables = await runInDurableObject(unitStub(name), (_instance, state) =>
      state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf%' ESCAPE '\\'").toArray(),
    );
    expect(tables).toEqual([]);
  });
});
