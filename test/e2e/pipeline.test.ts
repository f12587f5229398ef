/**
 * A FieldMapping → ScopeWriter pipeline over HTTP: writes reach it through content
 * processing, a changed mapping reaches every record through `reprocess/all`, a deletion
 * follows into the derived scope; and the modules' settings are checked where the
 * pipeline is set, including a Workers-only binding that a server may not have.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { drained, ok, target, uniqueUnit } from "./client";

const server = target();
const { call } = server;

const pipeline = (mapping: Record<string, unknown>) => ({
  modules: {
    raw: [
      { module: "FieldMapping", settings: mapping },
      { module: "ScopeWriter", settings: { scope: "index" } },
    ],
  },
});

async function indexes(unit: string, keys: string[]): Promise<Record<string, unknown>> {
  const { records } = await ok(call("POST", `/access/fetchMultiple/${unit}/index`, { keys }));
  return Object.fromEntries(records.map((record: { key: string; content: { index: unknown } }) => [record.key, record.content.index]));
}

describe("FieldMapping → ScopeWriter", () => {
  let unit: string;
  const keys = ["a-1", "a-2", "a-3"];

  beforeAll(async () => {
    unit = uniqueUnit("pipeline");
    await ok(call("PUT", `/admin/createStorageUnit/${unit}`, { contentProcessing: true, reprocessingQueue: true }));
    await ok(
      call(
        "POST",
        `/admin/setContentProcessingModules/${unit}`,
        pipeline({ rename: { title: "name" }, set: { "meta.source": "e2e" }, drop: ["secret"] }),
      ),
    );
  });

  it("maps each written record into the index scope", async () => {
    const lines = keys.map((key, n) =>
      JSON.stringify({ action: "add", scope: "raw", key, content: { title: `T${n}`, author: { name: `A${n}` }, secret: "s" } }),
    );
    await ok(call("POST", `/transaction/batch/${unit}`, lines.join("\n")));
    const status = await drained(server, unit);
    expect(status).toMatchObject({ processed: keys.length, failed: 0 });
    expect(await indexes(unit, keys)).toEqual({
      "a-1": { name: "T0", author: { name: "A0" }, meta: { source: "e2e" } },
      "a-2": { name: "T1", author: { name: "A1" }, meta: { source: "e2e" } },
      "a-3": { name: "T2", author: { name: "A2" }, meta: { source: "e2e" } },
    });
    // the source scope is left as written
    expect((await ok(call("GET", `/access/fetch/${unit}/a-1/raw`))).content.raw).toEqual({ title: "T0", author: { name: "A0" }, secret: "s" });
  });

  it("brings every record to a changed mapping through reprocess/all", async () => {
    await drained(server, unit);
    await ok(call("POST", `/admin/setContentProcessingModules/${unit}`, pipeline({ copy: { "author.name": "by" }, only: ["title", "by"] })));
    expect((await call("POST", `/reprocess/all/${unit}/raw`)).body).toEqual({ message: "OK", queued: keys.length, runId: expect.any(String) });
    expect(await drained(server, unit)).toMatchObject({ processed: 2 * keys.length, failed: 0 });
    expect(await indexes(unit, keys)).toEqual({
      "a-1": { title: "T0", by: "A0" },
      "a-2": { title: "T1", by: "A1" },
      "a-3": { title: "T2", by: "A2" },
    });
  });

  it("deletes the derived scope when the source is deleted", async () => {
    await ok(call("POST", `/transaction/execute/${unit}/raw`, { key: "a-2", action: "delete" }));
    await drained(server, unit);
    expect(await call("GET", `/access/fetch/${unit}/a-2`)).toMatchObject({ status: 404, body: { message: "KEY_NOT_FOUND" } });
    expect(Object.keys(await indexes(unit, keys))).toEqual(["a-1", "a-3"]);
  });

  it("refuses unknown modules, bad settings, and a Queue binding the server does not have", async () => {
    const set = (modules: unknown) => call("POST", `/admin/setContentProcessingModules/${unit}`, { modules: { raw: modules } });
    expect(await set([{ module: "NoSuchModule", settings: {} }])).toMatchObject({ status: 400, body: { message: "UNKNOWN_MODULE" } });
    const badScope = await set([{ module: "ScopeWriter", settings: { scope: "not a scope!" } }]);
    expect(badScope).toMatchObject({ status: 400, body: { message: "INVALID_MODULE_SETTINGS" } });
    // wrangler.toml declares no Queue by default, and a self-hosted server has none at all
    const queue = await set([{ module: "QueuePublisher", settings: { binding: "OUTBOX" } }]);
    expect(queue).toMatchObject({ status: 400, body: { message: "INVALID_MODULE_SETTINGS" } });
    expect(queue.body.detail).toContain("OUTBOX");
    // the refused configurations left the stored one alone
    expect((await ok(call("GET", `/admin/getContentProcessingModules/${unit}`))).modules.raw[0].module).toBe("FieldMapping");
  });
});
