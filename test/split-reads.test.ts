/**
 * A module's read during a split: a referenced record that has already moved to its new
 * shard is read there, so a join that runs while the split does misses nothing.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { StorageUnit } from "../src/unit/storage-unit";
import { addRecord, call, createUnit } from "./helpers";
import { holdSplit, releaseSplit, shardStub } from "./split-helpers";
import { fetchScope, setModules, status } from "./support/modules";
import { keysOnShard, unitLayout } from "./support/shards";
import type { ShardLayout } from "../src/shards/layout";

/** The first key `prefix<n>` that a split of the unit of `layout` (two shards) into four puts on `shard`. */
function keyOn(layout: ShardLayout, prefix: string, shard: number): string {
  return keysOnShard(layout, shard, 1, prefix, 4)[0]!;
}

async function drainShards(unit: string): Promise<void> {
  for (let round = 0; round < 20; round++) {
    for (const shard of [0, 1]) await runDurableObjectAlarm(shardStub(unit, shard));
    const { pending, assigned } = await status(unit);
    if (pending === 0 && assigned === 0) return;
  }
}

describe("a join while its unit splits", () => {
  it("reads a referenced record on the new shard it has moved to", async () => {
    const unit = await createUnit({ reprocessingQueue: true, shards: 2 });
    await setModules(unit, {
      books: [
        { module: "ForeignKeyJoin", settings: { field: "authorId", scope: "authors", as: "author" } },
        { module: "ScopeWriter", settings: { scope: "joined" } },
      ],
    });
    // both on shard 0 of 2; the author moves to shard 2 of 4, the book stays
    const layout = await unitLayout(unit);
    const author = keyOn(layout, "author", 2);
    const book = keyOn(layout, "book", 0);
    await addRecord(unit, "authors", { key: author, content: { name: "Ada" } });
    await addRecord(unit, "books", { key: book, content: { authorId: author } });
    await drainShards(unit);
    expect(await fetchScope(unit, book, "joined")).toEqual({ authorId: author, author: { name: "Ada" } });

    expect((await call("PUT", `/reprocess/pause/${unit}`)).status).toBe(200);
    await holdSplit(unit, 2);
    expect((await call("PUT", `/admin/splitStorageUnit/${unit}`, { shards: 4 })).body).toEqual({ message: "OK", splitting: true });
    // shard 0 moves its keys (the author goes to shard 2) while shard 1 holds, so the split goes on
    await releaseSplit(unit, 1);
    await runInDurableObject(shardStub(unit, 0), (instance: StorageUnit) =>
      (instance as unknown as { split: { step(): Promise<void> } }).split.step(),
    );
    await holdSplit(unit, 1);
    expect((await status(unit)).splitting).toMatchObject({ from: 2, to: 4 });

    const before = (await status(unit)).processed;
    expect((await call("POST", `/reprocess/keys/${unit}/books`, { keys: [book] })).body).toMatchObject({ queued: 1 });
    expect((await call("PUT", `/reprocess/resume/${unit}`)).status).toBe(200);
    for (let round = 0; round < 20 && (await status(unit)).processed <= before; round++) await runDurableObjectAlarm(shardStub(unit, 0));
    expect((await status(unit)).splitting).not.toBeNull();
    expect((await status(unit)).processed).toBe(before + 1);
    expect(await fetchScope(unit, book, "joined")).toEqual({ authorId: author, author: { name: "Ada" } });
  });
});
