import { describe, expect, it } from "vitest";
import { recordedCalls } from "../src/modules/recorder";
import { addRecord, call, createUnit } from "./helpers";
import { drain, failedItems, fetchScope, setModules, setReprocessing, status } from "./support/modules";

function processCalls(unit: string, scope: string) {
  return recordedCalls
    .filter((c) => c.tag === unit && c.scope === scope && c.event === "process")
    .map((c) => ({ key: c.key, kind: c.kind, document: c.document }));
}

describe("ScopeWriter", () => {
  it("writes the document as the modules before it left it into the other scope, whose pipeline then runs", async () => {
    const unit = await createUnit();
    await setModules(unit, {
      raw: [
        { module: "FieldMapping", settings: { rename: { headline: "title" } } },
        { module: "ScopeWriter", settings: { scope: "index" } },
      ],
      index: [{ module: "Recorder", settings: { tag: unit } }],
    });
    await addRecord(unit, "raw", { key: "doc/1", content: { headline: "Hello" } });
    await drain(unit);
    expect(await fetchScope(unit, "doc/1", "index")).toEqual({ title: "Hello" });
    expect(await fetchScope(unit, "doc/1", "raw")).toEqual({ headline: "Hello" });
    expect(processCalls(unit, "index")).toEqual([{ key: "doc/1", kind: "process", document: { title: "Hello" } }]);
    expect(await status(unit)).toMatchObject({ pending: 0, failed: 0, processed: 2 });
  });

  it("writes with version = now", async () => {
    const unit = await createUnit();
    await setModules(unit, { raw: [{ module: "ScopeWriter", settings: { scope: "index" } }] });
    await addRecord(unit, "raw", { key: "k", content: { a: 1 }, version: 5 });
    const before = Date.now();
    await drain(unit);
    const record = (await call("GET", `/access/fetch/${unit}/k`)).body;
    expect(record.meta.raw.version).toBe(5);
    expect(record.meta.index.version).toBeGreaterThanOrEqual(before);
  });

  it("never overwrites a newer version a client set: the item fails with the reason and the scope keeps its content", async () => {
    const unit = await createUnit();
    await setReprocessing(unit, { maxAttempts: 1 });
    await setModules(unit, { raw: [{ module: "ScopeWriter", settings: { scope: "index" } }] });
    const future = Date.now() + 86_400_000;
    await addRecord(unit, "index", { key: "k", content: { curated: true }, version: future });
    await addRecord(unit, "raw", { key: "k", content: { a: 1 } });
    await drain(unit);
    expect(await fetchScope(unit, "k", "index")).toEqual({ curated: true });
    expect((await call("GET", `/access/fetch/${unit}/k/index`)).body.meta.index.version).toBe(future);
    const [failed] = await failedItems(unit);
    expect(failed).toMatchObject({ scope: "raw", key: "k", attempts: 1 });
    expect(failed!.lastError).toMatch(
      new RegExp(`^ScopeWriter: scope 'index' of 'k' has version ${future}, newer than \\d+; send a version >= ${future}$`),
    );
  });

  it("deletes the other scope when its source is deleted, and that scope's pipeline receives the deletion", async () => {
    const unit = await createUnit();
    await setModules(unit, {
      raw: [{ module: "ScopeWriter", settings: { scope: "index" } }],
      index: [{ module: "Recorder", settings: { tag: unit } }],
    });
    await addRecord(unit, "raw", { key: "k", content: { a: 1 } });
    await drain(unit);
    expect((await call("POST", `/transaction/execute/${unit}/raw`, { key: "k", action: "delete" })).status).toBe(200);
    await drain(unit);
    expect(await fetchScope(unit, "k", "index")).toBeUndefined();
    expect(processCalls(unit, "index").map((c) => c.kind)).toEqual(["process", "delete"]);
    expect(await status(unit)).toMatchObject({ failed: 0, processed: 4 });
  });

  it("with content processing off, writes the scope without queuing its pipeline", async () => {
    const unit = await createUnit({ contentProcessing: false, reprocessingQueue: true });
    await setModules(unit, {
      raw: [{ module: "ScopeWriter", settings: { scope: "index" } }],
      index: [{ module: "Recorder", settings: { tag: unit } }],
    });
    await addRecord(unit, "raw", { key: "k", content: { a: 1 } });
    expect((await status(unit)).pending).toBe(0);
    expect((await call("POST", `/reprocess/key/${unit}/k/raw`)).status).toBe(200);
    await drain(unit);
    expect(await fetchScope(unit, "k", "index")).toEqual({ a: 1 });
    expect(processCalls(unit, "index")).toEqual([]);
    expect(await status(unit)).toMatchObject({ pending: 0, processed: 1 });
  });

  it("may write its own scope, which is stored but never queued again by that write", async () => {
    const unit = await createUnit();
    await setModules(unit, {
      raw: [
        { module: "FieldMapping", settings: { set: { normalized: true } } },
        { module: "ScopeWriter", settings: { scope: "raw" } },
        { module: "Recorder", settings: { tag: unit } },
      ],
    });
    await addRecord(unit, "raw", { key: "k", content: { a: 1 } });
    await drain(unit);
    expect(await fetchScope(unit, "k", "raw")).toEqual({ a: 1, normalized: true });
    expect(processCalls(unit, "raw")).toHaveLength(1);
    expect(await status(unit)).toMatchObject({ pending: 0, assigned: 0, failed: 0, processed: 1 });
  });

  it("cuts a chain of scope writes after 8 hops, failing the item with the reason", async () => {
    const unit = await createUnit();
    await setReprocessing(unit, { maxAttempts: 1 });
    await setModules(unit, {
      raw: [{ module: "ScopeWriter", settings: { scope: "index" } }],
      index: [{ module: "ScopeWriter", settings: { scope: "raw" } }],
    });
    await addRecord(unit, "raw", { key: "loop", content: { a: 1 } });
    await drain(unit);
    // hops 0 (raw) to 7 (index) wrote; the raw item of hop 8 was refused
    expect(await status(unit)).toMatchObject({ pending: 0, assigned: 0, failed: 1, processed: 8 });
    const [failed] = await failedItems(unit);
    expect(failed).toMatchObject({ scope: "raw", key: "loop", attempts: 1 });
    expect(failed!.lastError).toMatch(/^ScopeWriter: scope write chain cut after 8 hops \(raw → index\)/);
  });

  it("fails the item when the document to write is over the content limit", async () => {
    const unit = await createUnit();
    await setReprocessing(unit, { maxAttempts: 1 });
    await setModules(unit, {
      raw: [
        { module: "ForeignKeyJoin", settings: { field: "parts", scope: "blob", as: "parts" } },
        { module: "ScopeWriter", settings: { scope: "index" } },
      ],
    });
    const part = { text: "x".repeat(400 * 1024) };
    for (const key of ["p1", "p2", "p3"]) await addRecord(unit, "blob", { key, content: part });
    await addRecord(unit, "raw", { key: "big", content: { parts: ["p1", "p2", "p3"] } });
    await drain(unit);
    const [failed] = await failedItems(unit);
    expect(failed).toMatchObject({ scope: "raw", key: "big" });
    expect(failed!.lastError).toContain("a scope holds at most 1048576");
    expect(await fetchScope(unit, "big", "index")).toBeUndefined();
  });
});
