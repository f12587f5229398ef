/**
 * What a split must carry and find besides records (issue 17's reproduced finding, issue 21
 * row 3): the reverse rows of keys that have no record yet, and every key of a fetchPage
 * walk made while keys move.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { compareBytes } from "../src/routing/layout";
import { ADMIN_CALL } from "../src/unit/grants";
import type { StorageUnit } from "../src/unit/storage-unit";
import { addRecord, call, createUnit, ndjson } from "./helpers";
import { addMany, status } from "./queue-helpers";
import { driveSplit, holdSplit, moveShards, releaseSplit, shardStub } from "./split-helpers";
import { fetchScope, setModules } from "./support/modules";

/** Runs the alarms of shards 0..count-1 until none has work left. */
async function drainAll(unit: string, count: number): Promise<void> {
  for (let round = 0; round < 200; round++) {
    let ran = false;
    for (let index = 0; index < count; index++) if (await runDurableObjectAlarm(shardStub(unit, index))) ran = true;
    if (!ran) return;
  }
  throw new Error(`${unit}: its shards still had work after 200 rounds`);
}

describe("a split", () => {
  for (const [from, to] of [
    [1, 4],
    [2, 8],
  ] as const) {
    it(`moves the reverse rows of keys without a record, ${from} → ${to}: books joined to authors created after the split are updated`, async () => {
      const unit = await createUnit({ shards: from, reprocessingQueue: true });
      await setModules(unit, {
        books: [
          { module: "ForeignKeyJoin", settings: { field: "authorId", scope: "authors", as: "author" } },
          { module: "ScopeWriter", settings: { scope: "joined" } },
        ],
      });
      const books = Array.from({ length: 20 }, (_, n) => ({ book: `book${n}`, author: `author${n}` }));
      const lines = books.map(({ book, author }) => ({ action: "add", scope: "books", key: book, content: { authorId: author } }));
      expect((await call("POST", `/transaction/batch/${unit}`, ndjson(lines))).status).toBe(200);
      await drainAll(unit, from);
      for (const { book } of books) expect(await fetchScope(unit, book, "joined")).toMatchObject({ author: null });

      expect((await call("PUT", `/admin/splitStorageUnit/${unit}`, { shards: to })).status).toBe(200);
      await driveSplit(unit, to);
      for (const { author } of books) await addRecord(unit, "authors", { key: author, content: { name: author } });
      await drainAll(unit, to);
      const stale = [];
      for (const { book, author } of books) if ((await fetchScope(unit, book, "joined"))?.author?.name !== author) stale.push(book);
      expect(stale).toEqual([]);
    });
  }

  it("misses no key of fetchPage walks made while its keys move", async () => {
    const unit = await createUnit({ shards: 2, reprocessingQueue: true });
    const keys = (await addMany(unit, "raw", 3000)).sort(compareBytes);
    expect((await call("PUT", `/admin/splitStorageUnit/${unit}`, { shards: 16 })).status).toBe(200);
    const walk = async (size: number) => {
      const seen: string[] = [];
      let startId: string | undefined;
      do {
        const page = await call("GET", `/access/fetchPage/${unit}?batchSize=${size}${startId ? `&startId=${startId}` : ""}`);
        expect(page.status).toBe(200);
        seen.push(...page.body.records.map((record: { key: string }) => record.key));
        startId = page.body.nextStartId;
      } while (startId);
      return seen;
    };
    const [, ...walks] = await Promise.all([driveSplit(unit, 16), walk(50), walk(77), walk(120), walk(200)]);
    for (const seen of walks) expect(seen.length === keys.length && seen.every((key, index) => key === keys[index])).toBe(true);
    expect((await status(unit)).splitting).toBeNull();
  });

  it("misses no key of a fetchPage walk whose pages alternate with the moves, one old shard at a time, through the split's end", async () => {
    const unit = await createUnit({ shards: 4, reprocessingQueue: true });
    const keys = (await addMany(unit, "raw", 3000)).sort(compareBytes);
    await holdSplit(unit, 4);
    expect((await call("PUT", `/admin/splitStorageUnit/${unit}`, { shards: 16 })).status).toBe(200);
    // shard 0 last: its alarm ends the split once the others have reported, so the walk goes on past the end
    const moves = [2, 1, 3, 0];
    const seen: string[] = [];
    let startId: string | undefined;
    for (let pages = 1; ; pages++) {
      const page = await call("GET", `/access/fetchPage/${unit}?batchSize=100${startId ? `&startId=${startId}` : ""}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.records.map((record: { key: string }) => record.key));
      startId = page.body.nextStartId;
      if (!startId) break;
      if (pages % 5 === 0 && moves.length > 0) await moveShards(unit, [moves.shift()!]);
    }
    expect(moves).toEqual([]);
    expect((await status(unit)).splitting).toBeNull();
    expect(seen.length).toBe(keys.length);
    expect(seen.every((key, index) => key === keys[index])).toBe(true);
  });
});

describe("a run that reaches a new shard with a moved batch before that shard's own start", () => {
  it("is joined by the shard's start: no UNIQUE violation, nothing replaced, and its total is the number of keys", async () => {
    const unit = await createUnit({ shards: 2, reprocessingQueue: true });
    await setModules(unit, { raw: [] });
    const keys = await addMany(unit, "raw", 400);
    expect((await call("PUT", `/reprocess/pause/${unit}`)).status).toBe(200);
    await holdSplit(unit, 2);
    expect((await call("PUT", `/admin/splitStorageUnit/${unit}`, { shards: 4 })).status).toBe(200);
    const run = { runId: "run-before-its-start", trigger: "api" as const };
    // shard 0 starts its share and moves its keys (to shard 2) before shard 2 starts its own
    expect(await shardStub(unit, 0).reprocessAll(ADMIN_CALL, "raw", {}, run)).toHaveProperty("queued");
    await releaseSplit(unit, 1);
    await runInDurableObject(shardStub(unit, 0), (instance: StorageUnit) =>
      (instance as unknown as { parts: { split: { step(): Promise<void> } } }).parts.split.step(),
    );
    for (const index of [2, 1, 3]) expect(await shardStub(unit, index).reprocessAll(ADMIN_CALL, "raw", {}, run)).toHaveProperty("queued");
    const started = (await call("GET", `/reprocess/run/${unit}/${run.runId}`)).body.run;
    expect(started).toMatchObject({ total: keys.length });
    expect(started.state).not.toBe("replaced");
    await releaseSplit(unit, 2);
    await driveSplit(unit, 4);
    expect((await call("PUT", `/reprocess/resume/${unit}`)).status).toBe(200);
    await drainAll(unit, 4);
    expect((await call("GET", `/reprocess/run/${unit}/${run.runId}`)).body.run).toMatchObject({
      state: "done",
      total: keys.length,
      processed: keys.length,
    });
  });
});
