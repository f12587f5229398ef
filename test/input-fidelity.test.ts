/**
 * A document is stored exactly as sent, or refused with 400 and the reason; never changed.
 * Names that every JavaScript object carries (`constructor`, `toString` ...) are ordinary
 * names: as scopes and as field paths they reach nothing but their own data.
 */
import { describe, expect, it } from "vitest";
import { recordedCalls } from "../src/modules/recorder";
import { addRecord, call, createUnit } from "./helpers";
import { drain, fetchScope, setModules, status } from "./support/modules";

/** Valid scope names that are also members of Object.prototype. */
const PROTOTYPE_NAMES = ["constructor", "toString", "hasOwnProperty", "isPrototypeOf", "valueOf", "propertyIsEnumerable", "toLocaleString"];

const recorder = (tag: string) => ({ module: "Recorder", settings: { tag } });
const processed = (tag: string) =>
  recordedCalls.filter((call) => call.tag === tag && call.event === "process").map((call) => `${call.scope}/${call.key}`);

describe("scopes named like Object.prototype's members", () => {
  it("are written, fetched and left alone by the job when they have no pipeline", async () => {
    const unit = await createUnit();
    await setModules(unit, { raw: [recorder(unit)] });
    for (const scope of PROTOTYPE_NAMES) await addRecord(unit, scope, { key: "k", content: { scope } });
    const batch = PROTOTYPE_NAMES.map((scope) => JSON.stringify({ action: "add", scope, key: "b", content: { scope } })).join("\n");
    expect((await call("POST", `/transaction/batch/${unit}`, batch)).body).toEqual({ message: "OK", count: PROTOTYPE_NAMES.length });
    await drain(unit);
    expect(await status(unit)).toMatchObject({ pending: 0, failed: 0, processed: 0, lastError: null });
    for (const scope of PROTOTYPE_NAMES) expect(await fetchScope(unit, "k", scope)).toEqual({ scope });
    expect((await call("GET", `/access/fetch/${unit}/b`)).body.content).toEqual(
      Object.fromEntries(PROTOTYPE_NAMES.map((scope) => [scope, { scope }])),
    );
  });

  it("run their own pipelines on write and on reprocess/all", async () => {
    const unit = await createUnit({ reprocessingQueue: true });
    await setModules(unit, Object.fromEntries(PROTOTYPE_NAMES.map((scope) => [scope, [recorder(unit)]])));
    for (const scope of PROTOTYPE_NAMES) await addRecord(unit, scope, { key: "k", content: { scope } });
    await drain(unit);
    expect(await status(unit)).toMatchObject({ failed: 0, processed: PROTOTYPE_NAMES.length, lastError: null });
    expect(processed(unit).sort()).toEqual(PROTOTYPE_NAMES.map((scope) => `${scope}/k`).sort());
    expect((await call("POST", `/reprocess/all/${unit}/toString`)).status).toBe(200);
    await drain(unit);
    expect(await status(unit)).toMatchObject({ failed: 0, processed: PROTOTYPE_NAMES.length + 1 });
  });

  it("are refused when they break the naming rule, as __proto__ and __defineGetter__ do", async () => {
    const unit = await createUnit();
    for (const scope of ["__proto__", "__defineGetter__"]) {
      const answer = await call("PUT", `/transaction/add/${unit}/${scope}`, { key: "k", content: {} });
      expect(answer.status).toBe(400);
      expect(answer.body.detail).toContain("path.scope");
    }
  });
});

describe("secrets and bindings named like Object.prototype's members", () => {
  it("are missing, not found on the prototype", async () => {
    const unit = await createUnit();
    for (const name of ["constructor", "toString", "__proto__"]) {
      const modules = [
        [{ module: "HttpPublisher", settings: { url: "https://search.example.com", authSecret: `RESTAGE_PUBLISHER_${name}` } }, "no secret named"],
        [{ module: "QueuePublisher", settings: { binding: name } }, `no Queue producer binding named '${name}'`],
      ] as const;
      for (const [ref, detail] of modules) {
        const answer = await call("POST", `/admin/setContentProcessingModules/${unit}`, { modules: { raw: [ref] } });
        expect(answer.body).toEqual({ message: "INVALID_MODULE_SETTINGS", detail: expect.stringContaining(detail) });
      }
    }
  });
});

describe("FieldMapping paths named like Object.prototype's members", () => {
  it("read and write the document's own fields and never reach a prototype", async () => {
    const unit = await createUnit();
    await setModules(unit, {
      raw: [
        {
          module: "FieldMapping",
          settings: {
            copy: { constructor: "copied", "toString.inner": "inner" },
            set: { "constructor.prototype.polluted": true, "valueOf.x": 1 },
            rename: { hasOwnProperty: "renamed" },
          },
        },
        recorder(unit),
      ],
    });
    await addRecord(unit, "raw", { key: "k", content: { constructor: "own", toString: { inner: 2 } } });
    await addRecord(unit, "raw", { key: "bare", content: {} });
    await drain(unit);
    expect(await status(unit)).toMatchObject({ failed: 0, processed: 2 });
    const seen = new Map(recordedCalls.filter((call) => call.tag === unit && call.event === "process").map((call) => [call.key, call.document]));
    expect(seen.get("k")).toEqual({
      constructor: { prototype: { polluted: true } },
      toString: { inner: 2 },
      copied: "own",
      inner: 2,
      valueOf: { x: 1 },
    });
    // a document without those fields: nothing inherited is copied or renamed
    expect(seen.get("bare")).toEqual({ constructor: { prototype: { polluted: true } }, valueOf: { x: 1 } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty("polluted");
  });

  it("refuse __proto__ in a path with 400", async () => {
    const unit = await createUnit();
    for (const settings of [{ set: { "__proto__.x": 1 } }, { copy: { a: "b.__proto__" } }, { drop: ["__proto__"] }]) {
      const answer = await call("POST", `/admin/setContentProcessingModules/${unit}`, { modules: { raw: [{ module: "FieldMapping", settings }] } });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ message: "INVALID_MODULE_SETTINGS", detail: expect.stringContaining("__proto__") });
    }
  });
});

describe("content stored exactly as sent", () => {
  /** Odd but valid JSON: names of Object.prototype's members, an empty key, unicode, numbers at the ends of the double range. */
  const ODD = `{"constructor":{"prototype":1},"toString":"x","hasOwnProperty":null,"valueOf":{"toString":[]},"":"empty key","__proto":"not quite","ключ":"значение","😀":["😀"],"max":1.7976931348623157e+308,"min":-1.7976931348623157e+308,"tiny":5e-324,"int":9007199254740991,"nested":[[[]],[1,[2,[3,{"a":[{}]}]]]],"escaped":"\\u005f_proto__"}`;

  it("round-trips through transaction/add and transaction/batch, key order included", async () => {
    const unit = await createUnit();
    expect((await call("PUT", `/transaction/add/${unit}/raw`, `{"key":"add","content":${ODD}}`)).status).toBe(200);
    const line = `{"action":"add","scope":"raw","key":"batch","content":${ODD}}`;
    expect((await call("POST", `/transaction/batch/${unit}`, line)).body).toEqual({ message: "OK", count: 1 });
    for (const key of ["add", "batch"]) {
      const answer = await call("GET", `/access/fetch/${unit}/${key}/raw`);
      expect(JSON.stringify(answer.body.content.raw)).toBe(JSON.stringify(JSON.parse(ODD)));
    }
  });

  /** Bodies that JSON.parse reads but that could not be stored as sent, with the path the detail must name. */
  const UNSTORABLE: Array<[string, string, RegExp]> = [
    ["a __proto__ key", `{"title":"t","__proto__":{"admin":true}}`, /"__proto__" at content\.__proto__/],
    ["a nested __proto__ key", `{"a":[{"b":{"__proto__":[]}}]}`, /"__proto__" at content\.a\[0\]\.b\.__proto__/],
    ["an escaped __proto__ key", `{"\\u005f_proto__":1}`, /"__proto__" at content\.__proto__/],
    ["1e309", `{"n":1e309}`, /number at content\.n is beyond the range/],
    ["-1e309 in an array", `{"list":[1,-1e309]}`, /number at content\.list\[1\] is beyond the range/],
  ];

  for (const [what, content, detail] of UNSTORABLE) {
    it(`refuses ${what} with 400 naming where, in transaction/add and in a batch line`, async () => {
      const unit = await createUnit();
      const add = await call("PUT", `/transaction/add/${unit}/raw`, `{"key":"k","content":${content}}`);
      expect(add.status).toBe(400);
      expect(add.body).toEqual({ message: "INVALID_REQUEST", detail: expect.stringMatching(detail) });
      expect(add.body.detail).toMatch(/^body: /);
      const lines = [
        `{"action":"add","scope":"raw","key":"good","content":{}}`,
        `{"action":"add","scope":"raw","key":"bad","content":${content}}`,
      ].join("\n");
      const batch = await call("POST", `/transaction/batch/${unit}`, lines);
      expect(batch.body).toMatchObject({ message: "COMPLETED_WITH_ERRORS", count: 1 });
      expect(batch.body.errors).toEqual([{ line: 2, key: "bad", error: "INVALID_REQUEST", detail: expect.stringMatching(detail) }]);
      expect(batch.body.errors[0].detail).toMatch(/^line 2: /);
      expect((await call("GET", `/access/fetch/${unit}/k`)).status).toBe(404);
      expect((await call("GET", `/access/fetch/${unit}/bad`)).status).toBe(404);
    });
  }

  it("refuses __proto__ in setContentProcessingModules' modules and settings, leaving the pipelines as they were", async () => {
    const unit = await createUnit();
    await setModules(unit, { raw: [recorder(unit)] }, { lang: "en" });
    const before = (await call("GET", `/admin/getContentProcessingModules/${unit}`)).body;
    const bodies = [
      `{"modules":{"__proto__":[{"module":"Noop"}]}}`,
      `{"modules":{"raw":[{"module":"Noop","settings":{"__proto__":{}}}]}}`,
      `{"modules":{"raw":[]},"settings":{"__proto__":{"lang":"de"}}}`,
      `{"modules":{"raw":[]},"settings":{"n":1e309}}`,
    ];
    for (const body of bodies) {
      const answer = await call("POST", `/admin/setContentProcessingModules/${unit}`, body);
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual({ message: "INVALID_REQUEST", detail: expect.stringMatching(/__proto__|beyond the range/) });
    }
    expect((await call("GET", `/admin/getContentProcessingModules/${unit}`)).body).toEqual(before);
    expect(before).toMatchObject({ modules: { raw: [recorder(unit)] }, settings: { lang: "en" } });
  });
});
