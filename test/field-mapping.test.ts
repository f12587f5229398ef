import { describe, expect, it } from "vitest";
import { recordedCalls } from "../src/modules/recorder";
import { addRecord, call, createUnit } from "./helpers";
import { drain, fetchScope, setModules, status } from "./support/modules";

/** The documents the Recorder after the mapping saw for a unit, by key (the latest call wins). */
function seen(unit: string): Map<string, Record<string, unknown> | null | undefined> {
  const documents = new Map<string, Record<string, unknown> | null | undefined>();
  for (const call of recordedCalls) if (call.tag === unit && call.event === "process") documents.set(call.key!, call.document);
  return documents;
}

async function mapped(settings: Record<string, unknown>, content: Record<string, unknown>): Promise<Record<string, unknown> | null | undefined> {
  const unit = await createUnit();
  await setModules(unit, {
    raw: [
      { module: "FieldMapping", settings },
      { module: "Recorder", settings: { tag: unit } },
    ],
  });
  await addRecord(unit, "raw", { key: "k", content });
  await drain(unit);
  expect(await status(unit)).toMatchObject({ pending: 0, failed: 0, processed: 1 });
  return seen(unit).get("k");
}

describe("FieldMapping", () => {
  it("copies, renames, sets and drops dotted paths for the modules after it", async () => {
    const document = await mapped(
      {
        copy: { "author.name": "authorName" },
        rename: { headline: "title", "meta.lang": "language" },
        set: { "source.system": "crawler", rank: 3 },
        drop: ["internal", "author.email"],
      },
      { headline: "Hello", author: { name: "Ada", email: "ada@example.com" }, meta: { lang: "en", pages: 2 }, internal: true, body: "text" },
    );
    expect(document).toEqual({
      title: "Hello",
      author: { name: "Ada" },
      authorName: "Ada",
      meta: { pages: 2 },
      language: "en",
      source: { system: "crawler" },
      rank: 3,
      body: "text",
    });
  });

  it("applies copy, rename, set, drop, only in that order", async () => {
    const document = await mapped(
      {
        copy: { a: "b" }, // b gets a's value before a is renamed
        rename: { a: "c" },
        set: { c: "set wins over rename", d: { e: 1, f: 2 } },
        drop: ["d.f"],
        only: ["b", "c", "d.e", "d.f"],
      },
      { a: "A", z: "dropped by only" },
    );
    expect(document).toEqual({ b: "A", c: "set wins over rename", d: { e: 1 } });
  });

  it("skips missing sources without failing the item", async () => {
    const document = await mapped(
      { copy: { "author.name": "authorName", "x.y": "z" }, rename: { headline: "title" }, drop: ["nothing.here"], only: ["body", "title"] },
      { body: "text", author: "not an object" },
    );
    expect(document).toEqual({ body: "text" });
  });

  it("keeps the stored content as it was: the mapping changes only the document in the pipeline", async () => {
    const unit = await createUnit();
    await setModules(unit, { raw: [{ module: "FieldMapping", settings: { drop: ["secret"] } }] });
    await addRecord(unit, "raw", { key: "k", content: { secret: 1, open: 2 } });
    await drain(unit);
    expect(await fetchScope(unit, "k", "raw")).toEqual({ secret: 1, open: 2 });
  });

  it("passes delete items through untouched", async () => {
    const unit = await createUnit();
    await setModules(unit, {
      raw: [
        { module: "FieldMapping", settings: { set: { x: 1 } } },
        { module: "Recorder", settings: { tag: unit } },
      ],
    });
    await addRecord(unit, "raw", { key: "k", content: { a: 1 } });
    await drain(unit);
    expect((await call("POST", `/transaction/execute/${unit}/raw`, { key: "k", action: "delete" })).status).toBe(200);
    await drain(unit);
    const calls = recordedCalls.filter((c) => c.tag === unit && c.event === "process");
    expect(calls.map((c) => [c.kind, c.document])).toEqual([
      ["process", { a: 1, x: 1 }],
      ["delete", null],
    ]);
    expect(await status(unit)).toMatchObject({ failed: 0, processed: 2 });
  });

  it("gives each document its own copy of a set value", async () => {
    const unit = await createUnit();
    // the second mapping changes the copy in one document; the other must keep the original
    await setModules(unit, {
      raw: [
        { module: "FieldMapping", settings: { set: { tags: { first: "a" } } } },
        { module: "FieldMapping", settings: { rename: { "own.v": "tags.first" } } },
        { module: "Recorder", settings: { tag: unit } },
      ],
    });
    await addRecord(unit, "raw", { key: "k1", content: { own: { v: "changed" } } });
    await addRecord(unit, "raw", { key: "k2", content: {} });
    await drain(unit);
    const documents = seen(unit);
    expect(documents.get("k1")).toEqual({ own: {}, tags: { first: "changed" } });
    expect(documents.get("k2")).toEqual({ tags: { first: "a" } });
  });

  it("copies an object so that a later change to the copy leaves its source as it was, and copies strings, numbers and null as they are", async () => {
    const document = await mapped(
      { copy: { author: "writer", "author.name": "name", n: "count", nothing: "none" }, rename: { headline: "writer.name" } },
      { author: { name: "Ada" }, n: 7, nothing: null, headline: "H" },
    );
    expect(document).toEqual({ author: { name: "Ada" }, n: 7, nothing: null, writer: { name: "H" }, name: "Ada", count: 7, none: null });
  });
});
