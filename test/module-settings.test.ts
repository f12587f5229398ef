import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { createPipeline } from "../src/modules/pipeline";
import { Recorder, recordedCalls } from "../src/modules/recorder";
import type { PipelineItem } from "../src/modules/types";
import { ADMIN_TOKEN, addRecord, call, createUnit } from "./helpers";
import { drain, setModules } from "./support/modules";

async function setPipeline(unit: string, module: string, settings: Record<string, unknown>) {
  return call("POST", `/admin/setContentProcessingModules/${unit}`, { modules: { raw: [{ module: "Noop" }, { module, settings }] } });
}

describe("module settings", () => {
  it("refuses an unknown module with 400 UNKNOWN_MODULE naming it and the known ones", async () => {
    const unit = await createUnit();
    const answer = await setPipeline(unit, "FieldMaping", {});
    expect(answer.status).toBe(400);
    expect(answer.body.message).toBe("UNKNOWN_MODULE");
    expect(answer.body.detail).toContain("modules.raw[1]");
    expect(answer.body.detail).toContain("'FieldMaping'");
    expect(answer.body.detail).toContain("FieldMapping");
  });

  const invalid: Array<[string, Record<string, unknown>, string]> = [
    ["FieldMapping", { rename: { "a..b": "c" } }, "settings.rename"],
    ["FieldMapping", { drop: "title" }, "settings.drop"],
    ["FieldMapping", { set: { "__proto__.polluted": 1 } }, "settings.set"],
    ["FieldMapping", { move: { a: "b" } }, "settings"],
    ["ScopeWriter", {}, "settings.scope"],
    ["ScopeWriter", { scope: "not a scope!" }, "settings.scope"],
    ["ForeignKeyJoin", { field: "authorId", scope: "raw" }, "settings.as"],
    ["HttpPublisher", { url: "ftp://example.com" }, "settings.url"],
    ["HttpPublisher", { url: "https://example.com", format: "xml" }, "settings.format"],
    ["HttpPublisher", { url: "https://example.com", format: "elasticsearch" }, "settings.index"],
    ["HttpPublisher", { url: "https://example.com", timeoutMs: 99 }, "settings.timeoutMs"],
    ["HttpPublisher", { url: "https://example.com", timeoutMs: 300_001 }, "settings.timeoutMs"],
    ["HttpPublisher", { url: "https://example.com", maxRequestBytes: 1023 }, "settings.maxRequestBytes"],
    ["HttpPublisher", { url: "https://example.com", maxRequestBytes: 100 * 1024 * 1024 + 1 }, "settings.maxRequestBytes"],
    ["HttpPublisher", { url: "https://example.com", headers: { "x-a": "1\r\nx-b: 2" } }, "settings.headers"],
    ["HttpPublisher", { url: "https://example.com", authSecret: "RESTAGE_PUBLISHER_NOT_SET" }, "settings.authSecret"],
    ["QueuePublisher", { binding: "NO_SUCH_QUEUE" }, "settings.binding"],
    ["QueuePublisher", { binding: "STORAGE_UNIT" }, "settings.binding"],
  ];
  for (const [module, settings, field] of invalid) {
    it(`refuses ${module} ${JSON.stringify(settings)} with 400 INVALID_MODULE_SETTINGS naming ${field}`, async () => {
      const unit = await createUnit();
      const answer = await setPipeline(unit, module, settings);
      expect(answer.status).toBe(400);
      expect(answer.body.message).toBe("INVALID_MODULE_SETTINGS");
      expect(answer.body.detail).toContain(`modules.raw[1] (${module})`);
      expect(answer.body.detail).toContain(field);
      // nothing was stored
      expect((await call("GET", `/admin/getContentProcessingModules/${unit}`)).body).toMatchObject({ modules: {} });
    });
  }

  // set in the tests' environment but not meant for a publisher (TOKEN_SECRET is refused by its name, set or not)
  for (const name of ["ADMIN_TOKEN", "TOKEN_SECRET", "RESTAGE_TEST_MODULES", "PUBLISHER_URL", "RESTAGE_PUBLISHER_"]) {
    it(`refuses ${name} as HttpPublisher's authSecret, saying which variables a publisher may name`, async () => {
      const unit = await createUnit();
      const answer = await setPipeline(unit, "HttpPublisher", { url: "https://example.com", authSecret: name });
      expect(answer.status).toBe(400);
      expect(answer.body.message).toBe("INVALID_MODULE_SETTINGS");
      expect(answer.body.detail).toContain("settings.authSecret");
      expect(answer.body.detail).toContain(`'${name}' is not a secret meant for publishers`);
      expect(answer.body.detail).toContain("a publisher may name only variables starting with RESTAGE_PUBLISHER_");
      expect((await call("GET", `/admin/getContentProcessingModules/${unit}`)).body).toMatchObject({ modules: {} });
    });
  }

  it("stores each module's settings with its defaults filled in", async () => {
    const unit = await createUnit();
    await setModules(unit, { index: [{ module: "HttpPublisher", settings: { url: "https://example.com/hook" } }] });
    const stored = await call("GET", `/admin/getContentProcessingModules/${unit}`);
    expect(stored.body.modules.index).toEqual([
      {
        module: "HttpPublisher",
        settings: { url: "https://example.com/hook", format: "json", headers: {}, timeoutMs: 10_000, maxRequestBytes: 8 * 1024 * 1024 },
      },
    ]);
  });

  it("gives the unit-level settings to every module of every pipeline", async () => {
    const unit = await createUnit();
    const unitSettings = { language: "en", owner: { team: "search" } };
    await setModules(
      unit,
      {
        raw: [
          { module: "Recorder", settings: { tag: unit } },
          { module: "ScopeWriter", settings: { scope: "index" } },
        ],
        index: [{ module: "Recorder", settings: { tag: unit } }],
      },
      unitSettings,
    );
    await addRecord(unit, "raw", { key: "k", content: {} });
    await drain(unit);
    const starts = recordedCalls.filter((c) => c.tag === unit && c.event === "batchStart");
    expect(starts.map((c) => [c.scope, c.unitSettings])).toEqual([
      ["raw", unitSettings],
      ["index", unitSettings],
    ]);
  });
});

describe("test modules (Recorder, Fault)", () => {
  /** setContentProcessingModules through an app whose environment sets RESTAGE_TEST_MODULES to `value`. */
  async function setWith(value: string | undefined, unit: string, module: string) {
    const response = await createApp().request(
      `/admin/setContentProcessingModules/${unit}`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ modules: { raw: [{ module }] } }),
      },
      { ...env, RESTAGE_TEST_MODULES: value },
    );
    return { status: response.status, body: (await response.json()) as { message: string; detail?: string } };
  }

  for (const value of [undefined, "false", "1", "TRUE"]) {
    it(`refuses Recorder and Fault with 400 UNKNOWN_MODULE saying how to enable them when RESTAGE_TEST_MODULES is ${JSON.stringify(value)}`, async () => {
      const unit = await createUnit();
      for (const module of ["Recorder", "Fault"]) {
        const answer = await setWith(value, unit, module);
        expect(answer.status).toBe(400);
        expect(answer.body.message).toBe("UNKNOWN_MODULE");
        expect(answer.body.detail).toContain(`'${module}'`);
        expect(answer.body.detail).toContain('RESTAGE_TEST_MODULES is set to "true"');
      }
      expect((await call("GET", `/admin/getContentProcessingModules/${unit}`)).body).toMatchObject({ modules: {} });
    });
  }

  it("does not list them among the known modules of an unknown one when they are off", async () => {
    const answer = await setWith(undefined, await createUnit(), "Recordr");
    expect(answer.body.message).toBe("UNKNOWN_MODULE");
    expect(answer.body.detail).toContain("Noop");
    expect(answer.body.detail).not.toMatch(/Recorder|Fault/);
  });

  it('accepts them when RESTAGE_TEST_MODULES is "true", and Noop always', async () => {
    const unit = await createUnit();
    expect((await setWith("true", unit, "Recorder")).status).toBe(200);
    expect((await setWith("true", unit, "Fault")).status).toBe(200);
    expect((await setWith(undefined, unit, "Noop")).status).toBe(200);
  });

  it("refuses to run a stored pipeline naming a test module once they are off", () => {
    const config = { modules: { raw: [{ module: "Recorder", settings: {} }] }, settings: {} };
    const base = { unitName: "u", unit: {} as never };
    expect(createPipeline(config, "raw", { ...base, env: { RESTAGE_TEST_MODULES: "true" } })).toHaveLength(1);
    expect(() => createPipeline(config, "raw", { ...base, env: {} })).toThrow(/Recorder.*RESTAGE_TEST_MODULES/);
  });
});

describe("Recorder", () => {
  it("keeps the last 10,000 calls", () => {
    const instance = Recorder.create({ settings: { tag: "cap" }, unitSettings: {}, scope: "raw", unitName: "u", env: {}, unit: {} as never });
    const item = (key: string) =>
      ({ key, scope: "raw", kind: "process", document: { key }, version: 1, hops: 0, fail() {}, failure: undefined }) as PipelineItem;
    for (let index = 0; index < 10_005; index++) void instance.process(item(`k${index}`));
    expect(recordedCalls.length).toBe(10_000);
    expect(recordedCalls.at(-1)).toMatchObject({ tag: "cap", key: "k10004" });
    expect(recordedCalls.filter((c) => c.tag === "cap")[0]).toMatchObject({ key: "k5" });
  });
});
