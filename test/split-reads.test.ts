/**
 * A module's read during a split: a referenced record that has already moved to its new
 * shard is read there, so a join that runs while the split does misses nothing. And a
 * module's references for an item whose record has moved are refused for that item alone.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { PipelineItem } from "../src/modules/types";
import { shardOf } from "../src/routing/placement";
import type { Changes } from "../src/unit/changes";
import type { UnitConfig } from "../src/unit/config";
import type { StorageUnit } from "../src/unit/storage-unit";
import { READS } from "../src/yield-budget";
import { addRecord, call, createUnit } from "./helpers";
import { driveSplit, holdSplit, releaseSplit, shardRows, shardStub } from "./split-helpers";
import { fetchScope, setModules, status } from "./support/modules";
import { keysOnShard, unitLayout } from "./support/shards";
import type { ShardLayout } from "../src/routing/layout";

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
      (instance as unknown as { parts: { split: { step(): Promise<void> } } }).parts.split.step(),
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

  it("refuses a module's references for an item whose record has moved, by answer and not by a throw that would fail its whole batch", async () => {
    const unit = await createUnit({ reprocessingQueue: true, shards: 2 });
    // both on shard 0 of 2: one moves to shard 2 of 4, the other stays
    const layout = await unitLayout(unit);
    const leaving = keyOn(layout, "book", 2);
    const staying = keyOn(layout, "book", 0);
    expect((await call("PUT", `/reprocess/pause/${unit}`)).status).toBe(200);
    await holdSplit(unit, 2);
    expect((await call("PUT", `/admin/splitStorageUnit/${unit}`, { shards: 4 })).status).toBe(200);
    await releaseSplit(unit, 1);
    await runInDurableObject(shardStub(unit, 0), (instance: StorageUnit) =>
      (instance as unknown as { parts: { split: { step(): Promise<void> } } }).parts.split.step(),
    );
    await holdSplit(unit, 1);
    const answers = await runInDurableObject(shardStub(unit, 0), (instance: StorageUnit, state) => {
      const { parts } = instance as unknown as { parts: { changes: Changes; config: { get(): UnitConfig } } };
      const access = parts.changes.moduleAccess(parts.config.get().createdAt, READS);
      const item = (key: string) => ({ key, scope: "books", kind: "process", document: {}, version: 1, hops: 0 }) as unknown as PipelineItem;
      const refused = access.references(item(leaving), "authors", ["a1"], "authorId");
      const recorded = access.references(item(staying), "authors", ["a1"], "authorId");
      const rows = state.storage.sql.exec<{ key: string }>("SELECT key FROM record_refs ORDER BY key").toArray();
      return { refused, recorded, rows: rows.map((row) => row.key) };
    });
    expect(answers.refused).toContain("moved to another shard");
    expect(answers.recorded).toBeUndefined();
    expect(answers.rows).toEqual([staying]);
  });

  it("records a join's reverse row on the referenced key's new shard when that key has moved: the author created after the split updates the book, and no row is left off its owner", async () => {
    const unit = await createUnit({ reprocessingQueue: true, shards: 2 });
    await setModules(unit, {
      books: [
        { module: "ForeignKeyJoin", settings: { field: "authorId", scope: "authors", as: "author" } },
        { module: "ScopeWriter", settings: { scope: "joined" } },
      ],
    });
    // both on shard 0 of 2: the author's key moves to shard 2 of 4 (before it has a record), the book stays
    const layout = await unitLayout(unit);
    const author = keyOn(layout, "author", 2);
    const book = keyOn(layout, "book", 0);
    expect((await call("PUT", `/reprocess/pause/${unit}`)).status).toBe(200);
    await holdSplit(unit, 2);
    expect((await call("PUT", `/admin/splitStorageUnit/${unit}`, { shards: 4 })).status).toBe(200);
    await releaseSplit(unit, 1);
    await runInDurableObject(shardStub(unit, 0), (instance: StorageUnit) =>
      (instance as unknown as { parts: { split: { step(): Promise<void> } } }).parts.split.step(),
    );
    await holdSplit(unit, 1);
    // the book is written and joined while the split runs: its author does not exist yet
    await addRecord(unit, "books", { key: book, content: { authorId: author } });
    expect((await call("PUT", `/reprocess/resume/${unit}`)).status).toBe(200);
    await drainShards(unit);
    // the reverse row travels through shard 0's reference outbox, on the job's next runs
    for (let round = 0; round < 10 && (await runDurableObjectAlarm(shardStub(unit, 0))); round++) {}
    expect((await status(unit)).splitting).not.toBeNull();
    expect(await fetchScope(unit, book, "joined")).toEqual({ authorId: author, author: null });
    // the reverse row "the book references the author" is on the author's new shard, not on its old one
    expect((await shardRows(unit, 2)).refs).toEqual([]);
    const referrers = (index: number) =>
      runInDurableObject(shardStub(unit, index), (_instance: StorageUnit, state) =>
        state.storage.sql
          .exec<{ ref_key: string }>("SELECT ref_key FROM record_referrers")
          .toArray()
          .map((row) => row.ref_key),
      );
    expect(await referrers(2)).toEqual([author]);
    expect(await referrers(0)).toEqual([]);

    await releaseSplit(unit, 2);
    await driveSplit(unit, 4);
    await addRecord(unit, "authors", { key: author, content: { name: "Ada" } });
    for (let round = 0; round < 20 && !(await fetchScope(unit, book, "joined"))?.author; round++)
      for (const shard of [0, 1, 2, 3]) await runDurableObjectAlarm(shardStub(unit, shard));
    expect(await fetchScope(unit, book, "joined")).toEqual({ authorId: author, author: { name: "Ada" } });
    // every per-key row on its key's owner: no orphan left behind to run (or be published) as a deletion later
    for (const index of [0, 1, 2, 3]) {
      const rows = await shardRows(unit, index);
      for (const row of [...rows.records, ...rows.queue, ...rows.refs])
        expect(shardOf(String(row.key), 4, layout), `${index}: ${JSON.stringify(row)}`).toBe(index);
      for (const ref of await referrers(index)) expect(shardOf(ref, 4, layout), ref).toBe(index);
    }
  });
});
