import { describe, expect, it } from "vitest";
import { recordedCalls } from "../src/modules/recorder";
import { REFERRERS_PER_STEP } from "../src/unit/references";
import { addRecord, call, createUnit } from "./helpers";
import { waitForStatus } from "./queue-helpers";
import { drain, failedItems, fetchScope, setModules, setReprocessing, status } from "./support/modules";

/** The latest document the Recorder saw for a key of `books`. */
function lastSeen(unit: string, key: string): Record<string, unknown> | null | undefined {
  const calls = recordedCalls.filter((c) => c.tag === unit && c.scope === "books" && c.event === "process" && c.key === key);
  return calls[calls.length - 1]?.document;
}

/** A unit whose `books` pipeline joins `authorId` from the `authors` scope, which has no pipeline of its own. */
async function library(
  options: { contentProcessing?: boolean } = {},
  join: Record<string, unknown> = { field: "authorId", scope: "authors", as: "author" },
) {
  const unit = await createUnit({ reprocessingQueue: true, ...options });
  await setModules(unit, {
    books: [
      { module: "ForeignKeyJoin", settings: join },
      { module: "Recorder", settings: { tag: unit } },
    ],
  });
  return unit;
}

async function deleteScope(unit: string, scope: string, key: string) {
  expect((await call("POST", `/transaction/execute/${unit}/${scope}`, { key, action: "delete" })).status).toBe(200);
}

describe("ForeignKeyJoin", () => {
  it("embeds the referenced record's content, or null when it has no such scope", async () => {
    const unit = await library();
    await addRecord(unit, "authors", { key: "a1", content: { name: "Ada" } });
    await addRecord(unit, "books", { key: "b1", content: { title: "One", authorId: "a1" } });
    await addRecord(unit, "books", { key: "b2", content: { title: "Two", authorId: "nobody" } });
    await addRecord(unit, "books", { key: "b3", content: { title: "Three" } });
    await drain(unit);
    expect(lastSeen(unit, "b1")).toEqual({ title: "One", authorId: "a1", author: { name: "Ada" } });
    expect(lastSeen(unit, "b2")).toEqual({ title: "Two", authorId: "nobody", author: null });
    expect(lastSeen(unit, "b3")).toEqual({ title: "Three" });
    expect(await status(unit)).toMatchObject({ failed: 0, processed: 3 });
  });

  it("embeds an array of keys in order, leaving out the missing ones; numbers are keys too", async () => {
    const unit = await library({}, { field: "meta.authorIds", scope: "authors", as: "meta.authors" });
    await addRecord(unit, "authors", { key: "a1", content: { name: "Ada" } });
    await addRecord(unit, "authors", { key: "42", content: { name: "Grace" } });
    await addRecord(unit, "books", { key: "b1", content: { meta: { authorIds: [42, "missing", "a1"] } } });
    await drain(unit);
    expect(lastSeen(unit, "b1")).toEqual({ meta: { authorIds: [42, "missing", "a1"], authors: [{ name: "Grace" }, { name: "Ada" }] } });
  });

  it("embeds a thousand keys in order, as many reads as it takes", async () => {
    const unit = await library({}, { field: "authorIds", scope: "authors", as: "authors" });
    const keys = Array.from({ length: 1000 }, (_, i) => `a${String(999 - i).padStart(3, "0")}`);
    const lines = keys.filter((_, i) => i % 3 !== 0).map((key) => JSON.stringify({ action: "add", scope: "authors", key, content: { name: key } }));
    expect((await call("POST", `/transaction/batch/${unit}`, lines.join("\n"))).status).toBe(200);
    await addRecord(unit, "books", { key: "b1", content: { authorIds: keys } });
    await drain(unit);
    expect(lastSeen(unit, "b1")?.authors).toEqual(keys.filter((_, i) => i % 3 !== 0).map((key) => ({ name: key })));
  });

  it("queues the referrers again when a referenced record is written or deleted, though its scope has no pipeline", async () => {
    const unit = await library();
    await addRecord(unit, "authors", { key: "a1", content: { name: "Ada" } });
    await addRecord(unit, "books", { key: "b1", content: { authorId: "a1" } });
    await addRecord(unit, "books", { key: "b2", content: { authorId: "a1" } });
    await addRecord(unit, "books", { key: "b3", content: { authorId: "a2" } });
    await drain(unit);

    await addRecord(unit, "authors", { key: "a1", content: { name: "Ada Lovelace" } });
    expect(await status(unit)).toMatchObject({ pending: 2 });
    await drain(unit);
    expect(lastSeen(unit, "b1")).toMatchObject({ author: { name: "Ada Lovelace" } });
    expect(lastSeen(unit, "b2")).toMatchObject({ author: { name: "Ada Lovelace" } });

    await deleteScope(unit, "authors", "a1");
    expect(await status(unit)).toMatchObject({ pending: 2 });
    await drain(unit);
    expect(lastSeen(unit, "b1")).toMatchObject({ author: null });
    expect(await status(unit)).toMatchObject({ pending: 0, failed: 0, processed: 7 });
  });

  it("queues thousands of referrers with long keys: the write one bounded step of them, the job the rest", async () => {
    const unit = await library();
    // long keys: together well past what one SQL parameter may hold (2 MB)
    const books = Array.from({ length: 5000 }, (_, i) => `b${String(i).padStart(5, "0")}-${"x".repeat(490)}`);
    const lines = books.map((key) => JSON.stringify({ action: "add", scope: "books", key, content: { authorId: "a1" } }));
    expect((await call("POST", `/transaction/batch/${unit}`, lines.join("\n"))).body).toEqual({ message: "OK", count: books.length });
    await drain(unit);
    expect(await status(unit)).toMatchObject({ processed: books.length, failed: 0 });

    // paused, so the job only queues: what the write queued and what the job queued stay apart
    await call("PUT", `/reprocess/pause/${unit}`);
    const answer = await call("PUT", `/transaction/add/${unit}/authors`, { key: "a1", content: { name: "Ada" } });
    expect(answer.body).toEqual({ message: "OK" });
    const afterWrite = await status(unit);
    expect(afterWrite).toMatchObject({ pending: REFERRERS_PER_STEP });
    // the rest waits in the outbox, and the job is due at once to queue it
    expect(Date.parse(afterWrite.nextRunAt)).toBeLessThanOrEqual(Date.now());
    await drain(unit);
    const queued = await waitForStatus(unit, (s) => s.pending === books.length, "the job to queue every referrer");
    expect(queued).toMatchObject({ processed: books.length, assigned: 0 });
    await call("PUT", `/reprocess/resume/${unit}`);
    await drain(unit);
    expect(lastSeen(unit, books[4999]!)).toMatchObject({ author: { name: "Ada" } });
    expect(await status(unit)).toMatchObject({ pending: 0, failed: 0, processed: 2 * books.length });
  });

  it("queues a referrer only while its scope has a pipeline, and never the item whose module wrote", async () => {
    const unit = await createUnit({ reprocessingQueue: true });
    // raw joins index/<its own key> and then writes itself to index/<its own key>
    await setModules(unit, {
      raw: [
        { module: "ForeignKeyJoin", settings: { field: "authorId", scope: "index", as: "author" } },
        { module: "ScopeWriter", settings: { scope: "index" } },
      ],
    });
    await addRecord(unit, "raw", { key: "a1", content: { authorId: "a1" } });
    await drain(unit);
    // the write to index/a1 did not queue its referrer raw/a1, the item that wrote it
    expect(await status(unit)).toMatchObject({ pending: 0, failed: 0, processed: 1 });
    expect(await fetchScope(unit, "a1", "index")).toEqual({ authorId: "a1", author: null });
    await call("PUT", `/reprocess/pause/${unit}`);
    // a client's write queues the referrer
    await addRecord(unit, "index", { key: "a1", content: { name: "Ada" } });
    expect(await status(unit)).toMatchObject({ pending: 1 });
    await call("POST", `/reprocess/purge/${unit}`);
    // without a pipeline on raw, the reference stays but queues nothing
    await setModules(unit, { other: [{ module: "Noop" }] });
    await addRecord(unit, "index", { key: "a1", content: { name: "Ada Lovelace" } });
    expect(await status(unit)).toMatchObject({ pending: 0 });
  });

  it("updates a referrer when a key it references appears later", async () => {
    const unit = await library();
    await addRecord(unit, "books", { key: "b1", content: { authorId: "a9" } });
    await drain(unit);
    expect(lastSeen(unit, "b1")).toMatchObject({ author: null });
    await addRecord(unit, "authors", { key: "a9", content: { name: "Late" } });
    await drain(unit);
    expect(lastSeen(unit, "b1")).toMatchObject({ author: { name: "Late" } });
  });

  it("follows a changed reference and forgets a deleted referrer", async () => {
    const unit = await library();
    await addRecord(unit, "books", { key: "b1", content: { authorId: "a1" } });
    await addRecord(unit, "books", { key: "b2", content: { authorId: "a1" } });
    await drain(unit);
    await addRecord(unit, "books", { key: "b1", content: { authorId: "a2" } });
    await deleteScope(unit, "books", "b2");
    await drain(unit);
    await addRecord(unit, "authors", { key: "a1", content: { name: "no longer referenced" } });
    expect((await status(unit)).pending).toBe(0);
    await addRecord(unit, "authors", { key: "a2", content: { name: "Now referenced" } });
    expect((await status(unit)).pending).toBe(1);
    await drain(unit);
    expect(lastSeen(unit, "b1")).toMatchObject({ author: { name: "Now referenced" } });
  });

  it("queues no referrer while content processing is off", async () => {
    const unit = await library({ contentProcessing: false });
    await addRecord(unit, "authors", { key: "a1", content: { name: "Ada" } });
    await addRecord(unit, "books", { key: "b1", content: { authorId: "a1" } });
    expect((await call("POST", `/reprocess/key/${unit}/b1/books`)).status).toBe(200);
    await drain(unit);
    expect(lastSeen(unit, "b1")).toMatchObject({ author: { name: "Ada" } });
    await addRecord(unit, "authors", { key: "a1", content: { name: "Changed" } });
    expect((await status(unit)).pending).toBe(0);
  });

  it("keeps a derived scope up to date through a scope write", async () => {
    const unit = await createUnit();
    await setModules(unit, {
      raw: [
        { module: "ForeignKeyJoin", settings: { field: "authorId", scope: "raw", as: "author" } },
        { module: "FieldMapping", settings: { copy: { "author.name": "authorName" }, drop: ["author", "authorId"] } },
        { module: "ScopeWriter", settings: { scope: "index" } },
      ],
    });
    await addRecord(unit, "raw", { key: "author-1", content: { name: "Ada" } });
    await addRecord(unit, "raw", { key: "book-1", content: { title: "Notes", authorId: "author-1" } });
    await drain(unit);
    expect(await fetchScope(unit, "book-1", "index")).toEqual({ title: "Notes", authorName: "Ada" });
    await addRecord(unit, "raw", { key: "author-1", content: { name: "Ada Lovelace" } });
    await drain(unit);
    expect(await fetchScope(unit, "book-1", "index")).toEqual({ title: "Notes", authorName: "Ada Lovelace" });
  });

  it("fails an item whose field holds something other than keys, naming the field", async () => {
    const unit = await library();
    await setReprocessing(unit, { maxAttempts: 1 });
    await addRecord(unit, "books", { key: "b1", content: { authorId: { id: "a1" } } });
    await drain(unit);
    const [failed] = await failedItems(unit);
    expect(failed).toMatchObject({ scope: "books", key: "b1" });
    expect(failed!.lastError).toMatch(/^ForeignKeyJoin: field 'authorId' holds \{"id":"a1"\}; expected a key/);
  });

  it("fails an item whose joined records would pass the 1 MiB content limit, and embeds up to it", async () => {
    const unit = await library({}, { field: "authorIds", scope: "authors", as: "authors" });
    await setReprocessing(unit, { maxAttempts: 1 });
    for (const key of ["a1", "a2", "a3", "a4"]) await addRecord(unit, "authors", { key, content: { bio: "é".repeat(150_000) } });
    await addRecord(unit, "books", { key: "fits", content: { authorIds: ["a1", "a2", "a3"] } });
    await addRecord(unit, "books", { key: "too-many", content: { authorIds: ["a1", "a2", "a3", "a4"] } });
    await drain(unit);
    expect(lastSeen(unit, "fits")?.authors).toHaveLength(3);
    expect(lastSeen(unit, "too-many")).toBeUndefined();
    const failed = await failedItems(unit);
    expect(failed.map((item) => item.key)).toEqual(["too-many"]);
    expect(failed[0]!.lastError).toMatch(
      /^ForeignKeyJoin: embedding 'authorIds' at 'authors': content is (at least )?\d+ bytes as JSON; a scope holds at most 1048576/,
    );
  });

  it("counts the referrer's own content towards the limit", async () => {
    const unit = await library();
    await setReprocessing(unit, { maxAttempts: 1 });
    await addRecord(unit, "authors", { key: "a1", content: { bio: "x".repeat(600_000) } });
    await addRecord(unit, "books", { key: "b1", content: { authorId: "a1", text: "y".repeat(500_000) } });
    await drain(unit);
    expect(await status(unit)).toMatchObject({ failed: 1, processed: 0 });
    expect((await failedItems(unit))[0]!.lastError).toMatch(/^ForeignKeyJoin: embedding 'authorId' at 'author': content is/);
  });

  it("measures the joined document to the byte", async () => {
    const unit = await library();
    await setReprocessing(unit, { maxAttempts: 1 });
    // {"authorId":"a1"} and the author's content fit side by side, but not with ,"author": around them
    const author = { bio: "x".repeat(1_048_545) };
    expect(
      new TextEncoder().encode(JSON.stringify({ authorId: "a1" })).length + new TextEncoder().encode(JSON.stringify(author)).length,
    ).toBeLessThanOrEqual(1_048_576);
    expect(new TextEncoder().encode(JSON.stringify({ authorId: "a1", author })).length).toBeGreaterThan(1_048_576);
    await addRecord(unit, "authors", { key: "a1", content: author });
    await addRecord(unit, "books", { key: "b1", content: { authorId: "a1" } });
    await drain(unit);
    expect((await failedItems(unit))[0]!.lastError).toBe(
      "ForeignKeyJoin: embedding 'authorId' at 'author': content is 1048582 bytes as JSON; a scope holds at most 1048576 bytes (1 MiB); join fewer or smaller records",
    );
  });
  it("joins a batch of items referencing one record, each embedding it whole, and queues them all when it changes", async () => {
    const unit = await createUnit({ reprocessingQueue: true });
    // FieldMapping after the join changes what each item embeds
    await setModules(unit, {
      books: [
        { module: "ForeignKeyJoin", settings: { field: "authorId", scope: "authors", as: "author" } },
        { module: "FieldMapping", settings: { set: { "author.seen": true } } },
        { module: "Recorder", settings: { tag: unit } },
      ],
    });
    await setReprocessing(unit, { batchSize: 10 });
    await addRecord(unit, "authors", { key: "a1", content: { name: "Ada" } });
    for (const key of ["b1", "b2", "b3"]) await addRecord(unit, "books", { key, content: { authorId: "a1" } });
    await drain(unit);
    for (const key of ["b1", "b2", "b3"]) expect(lastSeen(unit, key)).toEqual({ authorId: "a1", author: { name: "Ada", seen: true } });

    await addRecord(unit, "authors", { key: "a1", content: { name: "Ada Lovelace" } });
    await drain(unit);
    for (const key of ["b1", "b2", "b3"]) expect(lastSeen(unit, key)).toMatchObject({ author: { name: "Ada Lovelace" } });
  });

  it("joins on a field an earlier module sets, reading what the batch's start could not know", async () => {
    const unit = await createUnit({ reprocessingQueue: true });
    await setModules(unit, {
      books: [
        { module: "FieldMapping", settings: { rename: { writer: "authorId" } } },
        { module: "ForeignKeyJoin", settings: { field: "authorId", scope: "authors", as: "author" } },
        { module: "Recorder", settings: { tag: unit } },
      ],
    });
    await addRecord(unit, "authors", { key: "a1", content: { name: "Ada" } });
    await addRecord(unit, "books", { key: "b1", content: { writer: "a1" } });
    await drain(unit);
    expect(lastSeen(unit, "b1")).toEqual({ authorId: "a1", author: { name: "Ada" } });

    // the reference recorded is the one the item ended up with
    await addRecord(unit, "authors", { key: "a1", content: { name: "Ada Lovelace" } });
    expect(await status(unit)).toMatchObject({ pending: 1 });
    await drain(unit);
    expect(lastSeen(unit, "b1")).toMatchObject({ author: { name: "Ada Lovelace" } });
  });
});
