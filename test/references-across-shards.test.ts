/**
 * ForeignKeyJoin on a unit of 8 shards, through HTTP: the keys a join reads live on other
 * shards than its item, and a change of one of them reaches its referrers on theirs.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { shardName, type ShardLayout } from "../src/routing/layout";
import { shardOf } from "../src/routing/placement";
import { REFERRERS_PER_STEP } from "../src/unit/references";
import { addRecord, call, createUnit, ndjson, unitStub } from "./helpers";
import { fetchScope, setModules, setReprocessing, status } from "./support/modules";
import { unitLayout } from "./support/shards";

const SHARDS = 8;

/** Runs every shard's alarm until no shard has anything left to do: referrers travel between them. */
async function drainAll(unit: string): Promise<void> {
  for (let round = 0; round < 100; round++) {
    let ran = false;
    for (let index = 0; index < SHARDS; index++) if (await runDurableObjectAlarm(unitStub(shardName(unit, index)))) ran = true;
    if (!ran) return;
  }
  throw new Error(`${unit}: its shards still had work after 100 rounds`);
}

/** `count` keys named `prefix<n>` that none falls on a shard of `avoid` in the unit of `layout`, each on a shard of its own where it can. */
function keysOff(layout: ShardLayout, prefix: string, count: number, avoid: string[]): string[] {
  const taken = new Set(avoid.map((key) => shardOf(key, SHARDS, layout)));
  const keys: string[] = [];
  for (let n = 0; keys.length < count; n++) {
    const shard = shardOf(`${prefix}${n}`, SHARDS, layout);
    if (!taken.has(shard)) {
      keys.push(`${prefix}${n}`);
      if (taken.size < SHARDS - 1) taken.add(shard);
    }
  }
  return keys;
}

/** A unit of 8 shards whose `books` join `field` from `authors` and keep the result in `joined`, with its layout (keys are placed by its seed). */
async function library(join: Record<string, unknown> = { field: "authorId", scope: "authors", as: "author" }) {
  const unit = await createUnit({ shards: SHARDS, reprocessingQueue: true });
  await setModules(unit, {
    books: [
      { module: "ForeignKeyJoin", settings: join },
      { module: "ScopeWriter", settings: { scope: "joined" } },
    ],
  });
  return { unit, layout: await unitLayout(unit) };
}

const processed = async (unit: string): Promise<number> => (await status(unit)).processed;

describe("ForeignKeyJoin on a unit of 8 shards", () => {
  it("embeds records of other shards, in the order of the keys, missing ones left out", async () => {
    const { unit, layout } = await library({ field: "authorIds", scope: "authors", as: "authors" });
    const [book] = keysOff(layout, "book", 1, []);
    const authors = keysOff(layout, "author", 5, [book!]);
    expect(new Set(authors.map((key) => shardOf(key, SHARDS, layout))).size).toBe(5);
    const lines = authors.slice(1).map((key) => ({ action: "add", scope: "authors", key, content: { name: key } }));
    expect((await call("POST", `/transaction/batch/${unit}`, ndjson(lines))).body).toEqual({ message: "OK", count: 4 });
    const asked = [authors[4]!, authors[0]!, authors[2]!, authors[1]!, authors[2]!, authors[3]!];
    await addRecord(unit, "books", { key: book!, content: { authorIds: asked } });
    await drainAll(unit);
    expect(await fetchScope(unit, book!, "joined")).toEqual({
      authorIds: asked,
      authors: asked.filter((key) => key !== authors[0]).map((name) => ({ name })),
    });
  });

  it("queues and updates referrers on other shards when a referenced record is written or deleted", async () => {
    const { unit, layout } = await library();
    const [author] = keysOff(layout, "author", 1, []);
    const books = keysOff(layout, "book", 4, [author!]);
    await addRecord(unit, "authors", { key: author!, content: { name: "Ada" } });
    for (const book of books) await addRecord(unit, "books", { key: book, content: { authorId: author } });
    await drainAll(unit);
    for (const book of books) expect(await fetchScope(unit, book, "joined")).toEqual({ authorId: author, author: { name: "Ada" } });

    await addRecord(unit, "authors", { key: author!, content: { name: "Ada Lovelace" } });
    // the write queued them on their shards itself
    expect(await status(unit)).toMatchObject({ pending: books.length });
    await drainAll(unit);
    for (const book of books) expect(await fetchScope(unit, book, "joined")).toMatchObject({ author: { name: "Ada Lovelace" } });

    expect((await call("POST", `/transaction/execute/${unit}/authors`, { key: author, action: "delete" })).status).toBe(200);
    expect(await status(unit)).toMatchObject({ pending: books.length });
    await drainAll(unit);
    for (const book of books) expect(await fetchScope(unit, book, "joined")).toMatchObject({ author: null });
    expect(await status(unit)).toMatchObject({ pending: 0, assigned: 0, failed: 0, processed: 3 * books.length });
  });

  it("updates a referrer when a key of another shard it references appears later", async () => {
    const { unit, layout } = await library();
    const [book] = keysOff(layout, "book", 1, []);
    const [author] = keysOff(layout, "author", 1, [book!]);
    await addRecord(unit, "books", { key: book!, content: { authorId: author } });
    await drainAll(unit);
    expect(await fetchScope(unit, book!, "joined")).toMatchObject({ author: null });
    await addRecord(unit, "authors", { key: author!, content: { name: "Late" } });
    await drainAll(unit);
    expect(await fetchScope(unit, book!, "joined")).toMatchObject({ author: { name: "Late" } });
  });

  it("no longer queues a referrer that stopped referencing the key, nor one deleted", async () => {
    const { unit, layout } = await library();
    const [first, second] = keysOff(layout, "author", 2, []);
    const books = keysOff(layout, "book", 3, [first!, second!]);
    for (const book of books) await addRecord(unit, "books", { key: book, content: { authorId: first } });
    await drainAll(unit);
    await addRecord(unit, "books", { key: books[0]!, content: { authorId: second } });
    expect((await call("POST", `/transaction/execute/${unit}/books`, { key: books[1], action: "delete" })).status).toBe(200);
    await drainAll(unit);
    const before = await processed(unit);

    // only books[2] still references `first`
    await addRecord(unit, "authors", { key: first!, content: { name: "no longer referenced by two" } });
    await drainAll(unit);
    expect(await processed(unit)).toBe(before + 1);
    expect(await fetchScope(unit, books[2]!, "joined")).toMatchObject({ author: { name: "no longer referenced by two" } });
    expect(await fetchScope(unit, books[0]!, "joined")).toEqual({ authorId: second, author: null });

    await addRecord(unit, "authors", { key: second!, content: { name: "Now referenced" } });
    await drainAll(unit);
    expect(await processed(unit)).toBe(before + 2);
    expect(await fetchScope(unit, books[0]!, "joined")).toMatchObject({ author: { name: "Now referenced" } });
    expect(await status(unit)).toMatchObject({ pending: 0, failed: 0 });
  });

  it("queues many referrers over every shard, the write one bounded step of them, the jobs the rest", async () => {
    const { unit } = await library();
    const books = Array.from({ length: 600 }, (_, i) => `book-${i}`);
    const lines = books.map((key) => ({ action: "add", scope: "books", key, content: { authorId: "a1" } }));
    expect((await call("POST", `/transaction/batch/${unit}`, ndjson(lines))).body).toEqual({ message: "OK", count: books.length });
    await drainAll(unit);
    // paused, so the jobs only queue: what the write queued and what they queued stay apart
    await call("PUT", `/reprocess/pause/${unit}`);
    await addRecord(unit, "authors", { key: "a1", content: { name: "Ada" } });
    expect(await status(unit)).toMatchObject({ pending: REFERRERS_PER_STEP });
    await drainAll(unit);
    expect(await status(unit)).toMatchObject({ pending: books.length, processed: books.length });
    await call("PUT", `/reprocess/resume/${unit}`);
    await drainAll(unit);
    expect(await status(unit)).toMatchObject({ pending: 0, failed: 0, processed: 2 * books.length });
    expect(await fetchScope(unit, books[599]!, "joined")).toMatchObject({ author: { name: "Ada" } });
  });

  it("reads other shards within the content limit: fails a join past 1 MiB, embeds up to it", async () => {
    const { unit, layout } = await library({ field: "authorIds", scope: "authors", as: "authors" });
    await setReprocessing(unit, { maxAttempts: 1 });
    const [fits, tooMany] = keysOff(layout, "book", 2, []);
    const authors = keysOff(layout, "author", 4, [fits!, tooMany!]);
    for (const key of authors) await addRecord(unit, "authors", { key, content: { bio: "é".repeat(150_000) } });
    await addRecord(unit, "books", { key: fits!, content: { authorIds: authors.slice(0, 3) } });
    await addRecord(unit, "books", { key: tooMany!, content: { authorIds: authors } });
    await drainAll(unit);
    expect((await fetchScope(unit, fits!, "joined"))?.authors).toHaveLength(3);
    expect(await fetchScope(unit, tooMany!, "joined")).toBeUndefined();
    const failed = (await call("GET", `/reprocess/failed/${unit}`)).body.items;
    expect(failed.map((item: { key: string }) => item.key)).toEqual([tooMany]);
    expect(failed[0].lastError).toMatch(/^ForeignKeyJoin: embedding 'authorIds' at 'authors': content is at least \d+ bytes as JSON/);
  });
});
