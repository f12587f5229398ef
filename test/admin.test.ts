/** Admin API: units, their flags, reprocessing settings and module configuration. */
import { env } from "cloudflare:workers";
import { ADMIN_CALL } from "../src/unit/grants";
import { describe, expect, it } from "vitest";
import { addRecord, call, createUnit, uniqueUnit, unitStub } from "./helpers";

const info = async (unit: string) => (await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit;
const setModules = (unit: string, body: unknown) => call("POST", `/admin/setContentProcessingModules/${unit}`, body);
const registry = () => env.REGISTRY.get(env.REGISTRY.idFromName("registry"));
const listed = async () => (await call("GET", "/admin/listStorageUnits")).body.storageUnits as Array<{ name: string; createdAt: string }>;

describe("admin/createStorageUnit", () => {
  it("creates a unit with content processing on and the reprocessing queue off by default", async () => {
    const unit = uniqueUnit();
    const before = Date.now();
    expect((await call("PUT", `/admin/createStorageUnit/${unit}`)).body).toEqual({ message: "OK" });
    const created = await info(unit);
    expect(created).toMatchObject({ name: unit, contentProcessing: true, reprocessingQueue: false, records: 0 });
    expect(Date.parse(created.createdAt)).toBeGreaterThanOrEqual(before);
  });

  it("takes the flags from the body", async () => {
    const unit = await createUnit({ contentProcessing: false, reprocessingQueue: true });
    expect(await info(unit)).toMatchObject({ contentProcessing: false, reprocessingQueue: true });
  });

  it("answers 409 STORAGE_UNIT_ALREADY_EXISTS for a name in use and keeps the unit as it was", async () => {
    const unit = await createUnit();
    await addRecord(unit, "raw", { key: "k", content: {} });
    const again = await call("PUT", `/admin/createStorageUnit/${unit}`, { contentProcessing: false });
    expect(again.status).toBe(409);
    expect(again.body.message).toBe("STORAGE_UNIT_ALREADY_EXISTS");
    expect(await info(unit)).toMatchObject({ contentProcessing: true, records: 1 });
  });

  it("a retry after the registry missed a created unit answers 409 and lists the unit with its real creation time", async () => {
    // the state left when the unit was created but registry.addUnit failed
    const unit = uniqueUnit();
    await unitStub(unit).create(unit, { contentProcessing: true, reprocessingQueue: false });
    expect((await listed()).map((entry) => entry.name)).not.toContain(unit);

    const retry = await call("PUT", `/admin/createStorageUnit/${unit}`);
    expect(retry.status).toBe(409);
    expect(retry.body.message).toBe("STORAGE_UNIT_ALREADY_EXISTS");
    expect((await listed()).find((entry) => entry.name === unit)?.createdAt).toBe((await info(unit)).createdAt);
  });

  it("listing a unit again keeps it among the units the cron visits", async () => {
    const unit = await createUnit();
    await registry().setActive(unit, true);
    const createdAt = Date.parse((await info(unit)).createdAt);
    await registry().addUnit(unit, createdAt);
    expect(await registry().activeUnits()).toContain(unit);
  });

  it.each(["-starts-with-dash", "has space", "a".repeat(65), "dollar$", "é"])("answers 400 naming path.unit for the name %s", async (name) => {
    const answer = await call("PUT", `/admin/createStorageUnit/${encodeURIComponent(name)}`);
    expect(answer.status).toBe(400);
    expect(answer.body.message).toBe("INVALID_REQUEST");
    expect(answer.body.detail).toContain("path.unit");
  });

  it("accepts a name of 64 characters using every allowed character class", async () => {
    const name = `A9_.-z${uniqueUnit()}`.padEnd(64, "x");
    expect((await call("PUT", `/admin/createStorageUnit/${name}`)).status).toBe(200);
  });

  it("answers 400 naming the field for a bad body", async () => {
    const wrongType = await call("PUT", `/admin/createStorageUnit/${uniqueUnit()}`, { contentProcessing: "yes" });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.detail).toContain("body.contentProcessing");
    const unknownField = await call("PUT", `/admin/createStorageUnit/${uniqueUnit()}`, { reprocessing: true });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.detail).toContain("reprocessing");
  });
});

describe("admin/deleteStorageUnit", () => {
  it("deletes the unit: its routes answer 404 and it leaves the list", async () => {
    const unit = await createUnit();
    await addRecord(unit, "raw", { key: "k", content: {} });
    expect((await call("DELETE", `/admin/deleteStorageUnit/${unit}`)).body).toEqual({ message: "OK" });
    for (const [method, path] of [
      ["GET", `/admin/getStorageUnit/${unit}`],
      ["GET", `/access/fetch/${unit}/k`],
      ["PUT", `/admin/enableContentProcessing/${unit}/true`],
    ]) {
      const answer = await call(method!, path!);
      expect(answer.status).toBe(404);
      expect(answer.body.message).toBe("STORAGE_UNIT_DOESNT_EXIST");
    }
    const list = await call("GET", "/admin/listStorageUnits");
    expect(list.body.storageUnits.map((entry: { name: string }) => entry.name)).not.toContain(unit);
  });

  it("answers 404 STORAGE_UNIT_DOESNT_EXIST for a unit that does not exist", async () => {
    const answer = await call("DELETE", `/admin/deleteStorageUnit/${uniqueUnit()}`);
    expect(answer.status).toBe(404);
    expect(answer.body.message).toBe("STORAGE_UNIT_DOESNT_EXIST");
  });

  it("a retry after the registry missed a deleted unit answers 404 and takes the unit off the list", async () => {
    // the state left when the unit was destroyed but registry.removeUnit failed
    const unit = await createUnit();
    await unitStub(unit).destroy(ADMIN_CALL);
    expect((await listed()).map((entry) => entry.name)).toContain(unit);

    const retry = await call("DELETE", `/admin/deleteStorageUnit/${unit}`);
    expect(retry.status).toBe(404);
    expect(retry.body.message).toBe("STORAGE_UNIT_DOESNT_EXIST");
    expect((await listed()).map((entry) => entry.name)).not.toContain(unit);
  });

  it("leaves nothing behind: a unit created again under the same name is empty, with default settings", async () => {
    const unit = await createUnit({ reprocessingQueue: true });
    await addRecord(unit, "raw", { key: "k", content: { old: true }, version: Date.now() + 1_000_000 });
    await setModules(unit, { modules: { raw: [{ module: "Noop" }] } });
    await call("PUT", `/admin/setReprocessingSettings/${unit}`, { batchSize: 7 });
    await call("PUT", `/transaction/add/${unit}/raw`, { key: "queued", content: {} });
    expect((await call("DELETE", `/admin/deleteStorageUnit/${unit}`)).status).toBe(200);

    await createUnit({}, unit);
    expect(await info(unit)).toMatchObject({ records: 0, reprocessingQueue: false, queue: { pending: 0, assigned: 0, failed: 0 }, processed: 0 });
    expect((await info(unit)).settings.batchSize).toBe(20);
    expect((await call("GET", `/access/fetch/${unit}/k`)).status).toBe(404);
    expect((await call("GET", `/access/fetchPage/${unit}`)).body.records).toEqual([]);
    expect((await call("GET", `/admin/getContentProcessingModules/${unit}`)).body).toEqual({ message: "OK", modules: {}, settings: {} });
    // the old tombstones and versions are gone too: an older write is accepted
    await addRecord(unit, "raw", { key: "k", content: { fresh: true }, version: 1 });
    expect((await call("GET", `/access/fetch/${unit}/k`)).body.content.raw).toEqual({ fresh: true });
  });
});

describe("admin/listStorageUnits", () => {
  it("lists every unit with its creation time", async () => {
    const first = await createUnit();
    const second = await createUnit();
    const list = await call("GET", "/admin/listStorageUnits");
    expect(list.status).toBe(200);
    expect(list.body.message).toBe("OK");
    const entries = list.body.storageUnits as Array<{ name: string; createdAt: string }>;
    for (const name of [first, second]) {
      const entry = entries.find((unit) => unit.name === name);
      expect(entry).toBeDefined();
      expect(new Date(entry!.createdAt).toISOString()).toBe(entry!.createdAt);
      expect(entry!.createdAt).toBe((await info(name)).createdAt);
    }
  });
});

describe("admin/getStorageUnit", () => {
  it("counts live records (not deleted ones) and queued items", async () => {
    const unit = await createUnit();
    await setModules(unit, { modules: { index: [{ module: "Noop" }] } });
    await addRecord(unit, "raw", { key: "a", content: {} });
    await addRecord(unit, "index", { key: "a", content: {} });
    await addRecord(unit, "raw", { key: "b", content: {} });
    await addRecord(unit, "index", { key: "c", content: {} });
    await addRecord(unit, "raw", { key: "d", content: {} });
    await call("PUT", `/transaction/execute/${unit}/$record`, { key: "d", action: "delete" });
    const got = await call("GET", `/admin/getStorageUnit/${unit}`);
    expect(got.status).toBe(200);
    expect(got.body.message).toBe("OK");
    expect(got.body.storageUnit).toMatchObject({
      name: unit,
      contentProcessing: true,
      reprocessingQueue: false,
      paused: false,
      processed: 0,
      lastError: null,
      records: 3,
      queue: { pending: 2, assigned: 0, failed: 0 },
      settings: {
        batchSize: 20,
        workers: 4,
        concurrency: 8,
        leaseMs: 60000,
        maxAttempts: 5,
        backoffMs: 1000,
        maxBackoffMs: 300000,
        maxItemsPerSecond: null,
      },
    });
  });

  it("answers 404 STORAGE_UNIT_DOESNT_EXIST for a unit that does not exist", async () => {
    const answer = await call("GET", `/admin/getStorageUnit/${uniqueUnit()}`);
    expect(answer.status).toBe(404);
    expect(answer.body.message).toBe("STORAGE_UNIT_DOESNT_EXIST");
  });
});

describe("admin/enableReprocessingQueue and admin/enableContentProcessing", () => {
  it("enableReprocessingQueue opens and closes the reprocess routes", async () => {
    const unit = await createUnit();
    await call("POST", `/admin/setContentProcessingModules/${unit}`, { modules: { raw: [] } });
    await addRecord(unit, "raw", { key: "k", content: {} });
    const closed = await call("POST", `/reprocess/all/${unit}/raw`);
    expect(closed.status).toBe(409);
    expect(closed.body.message).toBe("REPROCESSING_QUEUE_DISABLED");

    expect((await call("PUT", `/admin/enableReprocessingQueue/${unit}/true`)).body).toEqual({ message: "OK" });
    expect((await info(unit)).reprocessingQueue).toBe(true);
    expect((await call("POST", `/reprocess/all/${unit}/raw`)).body).toEqual({ message: "OK", queued: 1, runId: expect.any(String) });

    expect((await call("PUT", `/admin/enableReprocessingQueue/${unit}/false`)).status).toBe(200);
    expect((await info(unit)).reprocessingQueue).toBe(false);
    expect((await call("POST", `/reprocess/all/${unit}/raw`)).status).toBe(409);
  });

  it("enableContentProcessing decides whether writes and deletes queue their scope", async () => {
    const unit = await createUnit({ contentProcessing: false });
    await setModules(unit, { modules: { raw: [{ module: "Noop" }] } });
    await addRecord(unit, "raw", { key: "off", content: {} });
    expect((await info(unit)).queue.pending).toBe(0);

    expect((await call("PUT", `/admin/enableContentProcessing/${unit}/true`)).body).toEqual({ message: "OK" });
    expect((await info(unit)).contentProcessing).toBe(true);
    await addRecord(unit, "raw", { key: "on", content: {} });
    await call("PUT", `/transaction/execute/${unit}/raw`, { key: "off", action: "delete" });
    expect((await info(unit)).queue.pending).toBe(2);

    expect((await call("PUT", `/admin/enableContentProcessing/${unit}/false`)).status).toBe(200);
    expect((await info(unit)).contentProcessing).toBe(false);
    await addRecord(unit, "raw", { key: "off-again", content: {} });
    expect((await info(unit)).queue.pending).toBe(2);
  });

  it.each(["enableReprocessingQueue", "enableContentProcessing"])(
    "%s answers 400 naming path.enabled for a value other than true or false",
    async (route) => {
      const unit = await createUnit();
      for (const value of ["yes", "1", "TRUE"]) {
        const answer = await call("PUT", `/admin/${route}/${unit}/${value}`);
        expect(answer.status).toBe(400);
        expect(answer.body.message).toBe("INVALID_REQUEST");
        expect(answer.body.detail).toContain("path.enabled");
      }
    },
  );

  it.each(["enableReprocessingQueue", "enableContentProcessing"])("%s answers 404 for a unit that does not exist", async (route) => {
    const answer = await call("PUT", `/admin/${route}/${uniqueUnit()}/true`);
    expect(answer.status).toBe(404);
    expect(answer.body.message).toBe("STORAGE_UNIT_DOESNT_EXIST");
  });
});

describe("admin/setReprocessingSettings", () => {
  const RANGES: Array<[string, number, number]> = [
    ["batchSize", 1, 1000],
    ["workers", 1, 16],
    ["concurrency", 1, 64],
    ["leaseMs", 1000, 3_600_000],
    ["maxAttempts", 1, 100],
    ["backoffMs", 10, 3_600_000],
    ["maxBackoffMs", 10, 86_400_000],
    ["maxItemsPerSecond", 1, 1_000_000],
  ];

  it("stores a subset and keeps the other settings", async () => {
    const unit = await createUnit();
    const answer = await call("PUT", `/admin/setReprocessingSettings/${unit}`, { batchSize: 50, maxItemsPerSecond: 200 });
    expect(answer.status).toBe(200);
    expect(answer.body.message).toBe("OK");
    expect(answer.body.settings).toMatchObject({ batchSize: 50, maxItemsPerSecond: 200, workers: 4 });
    await call("PUT", `/admin/setReprocessingSettings/${unit}`, { workers: 2 });
    expect((await info(unit)).settings).toMatchObject({ batchSize: 50, maxItemsPerSecond: 200, workers: 2 });
    await call("PUT", `/admin/setReprocessingSettings/${unit}`, { maxItemsPerSecond: null });
    expect((await info(unit)).settings.maxItemsPerSecond).toBeNull();
  });

  it("accepts an empty subset", async () => {
    const unit = await createUnit();
    expect((await call("PUT", `/admin/setReprocessingSettings/${unit}`, {})).status).toBe(200);
  });

  it.each(RANGES)("accepts %s at both ends of its range (%i to %i)", async (field, low, high) => {
    const unit = await createUnit();
    const lowBody = field === "backoffMs" ? { backoffMs: low } : { [field]: low, ...(field === "maxBackoffMs" ? { backoffMs: low } : {}) };
    expect((await call("PUT", `/admin/setReprocessingSettings/${unit}`, lowBody)).status).toBe(200);
    const highBody = field === "backoffMs" ? { backoffMs: high, maxBackoffMs: high } : { [field]: high };
    expect((await call("PUT", `/admin/setReprocessingSettings/${unit}`, highBody)).status).toBe(200);
    expect((await info(unit)).settings[field]).toBe(high);
  });

  it.each(RANGES)("answers 400 naming %s just below and just above its range (%i to %i)", async (field, low, high) => {
    const unit = await createUnit();
    for (const value of [low - 1, high + 1, low + 0.5]) {
      const answer = await call("PUT", `/admin/setReprocessingSettings/${unit}`, { [field]: value });
      expect(answer.status).toBe(400);
      expect(answer.body.message).toBe("INVALID_REQUEST");
      expect(answer.body.detail).toContain(`body.${field}`);
    }
    expect((await info(unit)).settings.batchSize).toBe(20);
  });

  it("answers 400 naming the fields for a maxBackoffMs below backoffMs, an unknown field or a string", async () => {
    const unit = await createUnit();
    const cap = await call("PUT", `/admin/setReprocessingSettings/${unit}`, { backoffMs: 5000, maxBackoffMs: 1000 });
    expect(cap.status).toBe(400);
    expect(cap.body.detail).toContain("maxBackoffMs");
    const unknown = await call("PUT", `/admin/setReprocessingSettings/${unit}`, { batchsize: 5 });
    expect(unknown.status).toBe(400);
    expect(unknown.body.detail).toContain("batchsize");
    const text = await call("PUT", `/admin/setReprocessingSettings/${unit}`, { workers: "4" });
    expect(text.status).toBe(400);
    expect(text.body.detail).toContain("body.workers");
  });

  it("answers 404 for a unit that does not exist", async () => {
    expect((await call("PUT", `/admin/setReprocessingSettings/${uniqueUnit()}`, { batchSize: 5 })).body.message).toBe("STORAGE_UNIT_DOESNT_EXIST");
  });
});

describe("admin/setContentProcessingModules and getContentProcessingModules", () => {
  it("stores the configuration with each module's defaults filled in, and replaces it whole", async () => {
    const unit = await createUnit();
    const set = await setModules(unit, {
      modules: {
        raw: [
          { module: "Recorder", settings: { tag: "t" } },
          { module: "Fault", settings: { failKeys: ["x"] } },
        ],
        index: [],
      },
      settings: { shared: 1 },
    });
    expect(set.body).toEqual({ message: "OK" });
    const got = await call("GET", `/admin/getContentProcessingModules/${unit}`);
    expect(got.status).toBe(200);
    expect(got.body.message).toBe("OK");
    expect(got.body.modules.raw[0]).toEqual({ module: "Recorder", settings: { tag: "t" } });
    expect(got.body.modules.raw[1]).toMatchObject({ module: "Fault", settings: { failKeys: ["x"], failAll: false, stallKeys: [] } });
    expect(got.body.modules.index).toEqual([]);
    expect(got.body.settings).toEqual({ shared: 1 });

    await setModules(unit, { modules: { ocr: [{ module: "Noop" }] } });
    expect((await call("GET", `/admin/getContentProcessingModules/${unit}`)).body).toEqual({
      message: "OK",
      modules: { ocr: [{ module: "Noop", settings: {} }] },
      settings: {},
    });
  });

  it("starts with no pipelines", async () => {
    const unit = await createUnit();
    expect((await call("GET", `/admin/getContentProcessingModules/${unit}`)).body).toEqual({ message: "OK", modules: {}, settings: {} });
  });

  it("answers 400 UNKNOWN_MODULE naming the module and where it is, and keeps the old configuration", async () => {
    const unit = await createUnit();
    await setModules(unit, { modules: { raw: [{ module: "Noop" }] } });
    const answer = await setModules(unit, { modules: { raw: [{ module: "Noop" }, { module: "Nope" }] } });
    expect(answer.status).toBe(400);
    expect(answer.body.message).toBe("UNKNOWN_MODULE");
    expect(answer.body.detail).toContain("modules.raw[1]");
    expect(answer.body.detail).toContain("Nope");
    expect(answer.body.detail).toContain("Recorder");
    expect((await call("GET", `/admin/getContentProcessingModules/${unit}`)).body.modules).toEqual({ raw: [{ module: "Noop", settings: {} }] });
  });

  it.each([
    ["Noop", { extra: 1 }],
    ["Recorder", { tag: 5 }],
    ["Fault", { stallMs: -1 }],
    ["Fault", { throwIn: "nowhere" }],
  ])("answers 400 INVALID_MODULE_SETTINGS for %s with settings %j", async (module, settings) => {
    const unit = await createUnit();
    const answer = await setModules(unit, { modules: { raw: [{ module, settings }] } });
    expect(answer.status).toBe(400);
    expect(answer.body.message).toBe("INVALID_MODULE_SETTINGS");
    expect(answer.body.detail).toContain(`modules.raw[0] (${module})`);
    expect(answer.body.detail).toContain(Object.keys(settings)[0]);
  });

  it.each([
    ["body.modules", "a missing modules field", {}],
    ["body.modules", "modules that is a list", { modules: [] }],
    ["body.modules.raw", "a pipeline that is not a list", { modules: { raw: { module: "Noop" } } }],
    ["body.modules.raw.0.module", "a module without a name", { modules: { raw: [{ settings: {} }] } }],
    ["body.modules.raw.0", "a module with an unknown field", { modules: { raw: [{ module: "Noop", options: {} }] } }],
    ["body.modules.bad scope: invalid key: 1-64 characters", "a bad scope name", { modules: { "bad scope": [] } }],
    ["body.settings", "unit settings that are not an object", { modules: {}, settings: 5 }],
    ["body", "an unknown top-level field", { modules: {}, pipelines: {} }],
  ])("answers 400 INVALID_REQUEST naming %s for %s", async (field, _case, body) => {
    const unit = await createUnit();
    const answer = await setModules(unit, body);
    expect(answer.status).toBe(400);
    expect(answer.body.message).toBe("INVALID_REQUEST");
    expect(answer.body.detail).toContain(field);
  });

  it("answers 404 for a unit that does not exist", async () => {
    expect((await setModules(uniqueUnit(), { modules: {} })).body.message).toBe("STORAGE_UNIT_DOESNT_EXIST");
    expect((await call("GET", `/admin/getContentProcessingModules/${uniqueUnit()}`)).body.message).toBe("STORAGE_UNIT_DOESNT_EXIST");
  });
});
