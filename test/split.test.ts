/**
 * Splitting a unit into more shards (API.md, "Sharded storage units"; README, "Splitting
 * n → m"): everything a key has goes to its new shard, writes and reads go on meanwhile,
 * and a split cut short resumes.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { compareBytes } from "../src/routing/layout";
import { shardOf } from "../src/routing/placement";
import type { RecordStore } from "../src/unit/records";
import type { StorageUnit } from "../src/unit/storage-unit";
import { call, createUnit, ndjson } from "./helpers";
import { addMany, setPipelines, setSettings, status, waitFor, waitForStatus } from "./queue-helpers";
import { createUser, grant } from "./security-helpers";
import { driveSplit, holdSplit, moveOneBatch, releaseSplit, shardRows, shardStub, type ShardRows } from "./split-helpers";
import { keysOnShard, shardLayout, unitLayout } from "./support/shards";

/** Items that fail for good before the split: outside the `reprocess/all` (prefix `k`), so they stay failed through it. */
const FAILING = ["z-fail-a", "z-fail-b"];

/** A unit of `shards` with `count` records processed once (an `index` scope written by its pipeline, two items failed), some tombstones and versions, reference rows, a grant, then a paused `reprocess/all`. */
async function busyUnit(shards: number, count: number) {
  const unit = await createUnit({ shards, contentProcessing: true, reprocessingQueue: true });
  await setSettings(unit, { maxAttempts: 2, backoffMs: 10, maxBackoffMs: 10 });
  await setPipelines(unit, {
    raw: [
      { module: "ScopeWriter", settings: { scope: "index" } },
      { module: "Fault", settings: { failKeys: FAILING } },
    ],
  });
  const keys = await addMany(unit, "raw", count);
  const failing = ndjson(FAILING.map((key) => ({ action: "add", scope: "raw", key, content: {} })));
  expect((await call("POST", `/transaction/batch/${unit}`, failing)).body.count).toBe(FAILING.length);
  await waitForStatus(unit, (s) => s.pending === 0 && s.assigned === 0 && s.failed === FAILING.length, "the first run", 60_000);
  // tombstones and versions
  for (const key of ["k000001", "k000002", "k000003", "k000004"])
    expect((await call("PUT", `/transaction/add/${unit}/extra`, { key, content: { v: 7 }, version: 7 })).status).toBe(200);
  for (const key of ["k000001", "k000002", "k000003"])
    expect((await call("PUT", `/transaction/execute/${unit}/extra`, { key, action: "delete", policy: "mustexist", version: 1e15 })).status).toBe(200);
  await waitForStatus(unit, (s) => s.pending === 0 && s.assigned === 0, "the writes' items", 30_000);
  // reference rows as a join leaves them, on the shard of the key they belong to
  const layout = await unitLayout(unit);
  for (const key of ["k000010", "k000011", "k000012"]) {
    await runInDurableObject(shardStub(unit, shardOf(key, shards, layout)), (_instance: StorageUnit, state) => {
      state.storage.sql.exec("INSERT INTO record_refs (scope, key, via, ref_scope, ref_key) VALUES ('raw', ?, 'author', 'raw', 'k000020')", key);
    });
  }
  const user = await createUser();
  await grant("rw", user.name, unit);
  expect((await call("PUT", `/reprocess/pause/${unit}`)).status).toBe(200);
  const started = await call("POST", `/reprocess/all/${unit}/raw?prefix=k`);
  expect(started.body.queued).toBe(count);
  return { unit, keys, user, runId: started.body.runId as string };
}

/** A record written inside the object, as an item of the job's running batch writes it: no request runs while a batch travels. */
function writeInside(instance: StorageUnit, key: string, content: Record<string, unknown>): void {
  const { records } = (instance as unknown as { parts: { records: RecordStore } }).parts;
  expect(records.addJson(key, "raw", JSON.stringify(content), "overwrite", Date.now())).toHaveProperty("changed");
}

async function everyShard(unit: string, shards: number): Promise<ShardRows[]> {
  const all: ShardRows[] = [];
  for (let index = 0; index < shards; index++) all.push(await shardRows(unit, index));
  return all;
}

/** The per-key rows of every shard, each with the shard it was found on. */
function byKey(shards: ShardRows[]) {
  const found: Array<{ table: string; key: string; shard: number; row: unknown }> = [];
  shards.forEach((rows, shard) => {
    for (const row of rows.records) found.push({ table: "records", key: String(row.key), shard, row });
    for (const row of rows.queue) found.push({ table: "queue", key: String(row.key), shard, row });
    for (const row of rows.refs) found.push({ table: "refs", key: String(row.key), shard, row });
  });
  return found;
}

/** The stored contents of `key`'s record rows on shard `index` of `unit`, as they are (none: the shard holds no row of it). */
async function contentsOn(unit: string, index: number, key: string): Promise<unknown[]> {
  return (await shardRows(unit, index)).records.filter((row) => row.key === key).map((row) => JSON.parse(String(row.content)));
}

describe("splitStorageUnit", () => {
  for (const [from, to, count] of [
    [1, 2, 6000],
    [8, 16, 44_000],
  ] as const) {
    it(`moves every row of a key to its new shard, ${from} → ${to}, during a paused reprocess/all that then completes`, async () => {
      const { unit, user, runId } = await busyUnit(from, count);
      const layout = await unitLayout(unit);
      const before = await everyShard(unit, from);
      expect(before.every((rows) => rows.fills.length === 1)).toBe(true);
      const split = await call("PUT", `/admin/splitStorageUnit/${unit}`, { shards: to });
      expect(split.body).toEqual({ message: "OK", splitting: true });
      await driveSplit(unit, to, 120_000);

      // the unit keeps its placement seed: every shard, old and new, holds it
      for (let index = 0; index < to; index++) expect(await shardLayout(unit, index)).toEqual({ ...layout, shards: to });
      const after = await everyShard(unit, to);
      const moved = byKey(after);
      // every row is on its key's shard, once, as it was (the referrer outbox is the job's to drain, paused or not: where it is, it is on its key's shard)
      for (const rows of after) for (const row of rows.outbox) expect(shardOf(String(row.ref_key), to, layout)).toBe(after.indexOf(rows));
      for (const entry of moved) expect(entry.shard, `${entry.table} ${entry.key}`).toBe(shardOf(entry.key, to, layout));
      const strip = (entries: ReturnType<typeof byKey>) => entries.map(({ table, row }) => JSON.stringify([table, row])).sort();
      expect(strip(moved)).toEqual(strip(byKey(before)));
      // each shard's fill goes on from where it stood, counting what is left there; every shard holds the grant
      for (const rows of after) {
        expect(rows.fills).toHaveLength(1);
        expect(rows.grants.map((grant) => grant.user_name)).toEqual([user.name]);
      }
      const info = (await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit;
      expect(info).toMatchObject({ shards: to, records: count + FAILING.length, splitting: null, queue: { failed: FAILING.length } });
      const fetched = await call("GET", `/access/fetch/${unit}/k000004`, undefined, { token: user.token });
      expect(fetched.body.content).toMatchObject({ raw: { n: 4 }, extra: { v: 7 } });
      expect(fetched.body.meta.extra.version).toBe(7);
      expect((await call("GET", `/access/fetch/${unit}/k000001/extra`)).body.message).toBe("KEY_NOT_FOUND");
      expect((await call("GET", `/access/fetch/${unit}/k000001/index`)).body.content.index).toEqual({ n: 1 });

      const processed = (await status(unit)).processed;
      expect((await call("PUT", `/reprocess/resume/${unit}`)).status).toBe(200);
      const done = await waitForStatus(unit, (s) => !s.filling && s.pending === 0 && s.assigned === 0, "the run after the split", 60_000);
      expect(done.processed - processed).toBe(count);
      expect(done.failed).toBe(FAILING.length);
      // the run went with its items: one run, its total counted where its fill began, all of it processed on the new shards
      const run = await waitFor(async () => {
        const { body } = await call("GET", `/reprocess/run/${unit}/${runId}`);
        return body.run?.state === "done" ? body.run : undefined;
      }, "the run to be done");
      expect(run).toMatchObject({ total: count, processed: count });
      const perShard = (await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit.shardStats;
      for (const shard of perShard) expect(shard).toMatchObject({ pending: 0, assigned: 0 });
    }, 240_000);
  }

  it("takes writes while it runs (unmoved keys on their old shard, moved ones on their new shard, a batch across both), refuses a second split, and serves reads", async () => {
    const unit = await createUnit({ shards: 2, contentProcessing: false, reprocessingQueue: true });
    await setPipelines(unit, { raw: [] });
    const keys = await addMany(unit, "raw", 2000);
    const layout = await unitLayout(unit);
    expect((await call("PUT", `/reprocess/pause/${unit}`)).status).toBe(200);
    await holdSplit(unit, 2);
    expect((await call("PUT", `/admin/splitStorageUnit/${unit}`, { shards: 4 })).body).toEqual({ message: "OK", splitting: true });
    expect((await status(unit)).splitting).toEqual({ from: 2, to: 4, moved: 0, total: 2000 });

    // before any key has moved: every write lands on the key's old shard
    const written = new Map<string, unknown>();
    const add = async (key: string, content: unknown) => {
      expect((await call("PUT", `/transaction/add/${unit}/raw`, { key, content })).status, key).toBe(200);
      written.set(key, content);
    };
    await add("new", { at: "start" });
    expect((await call("PUT", `/transaction/execute/${unit}/raw`, { key: keys[0], action: "delete" })).status).toBe(200);
    written.set(keys[0]!, undefined);
    const second = await call("PUT", `/admin/splitStorageUnit/${unit}`, { shards: 16 });
    expect(second.status).toBe(409);
    expect(second.body.message).toBe("STORAGE_UNIT_SPLITTING");
    expect(second.headers.get("retry-after")).toBe("5");

    // shard 0 moves part of its keys: one batch of 300
    const cursor = await moveOneBatch(unit, 0, 300);
    expect(cursor.done).toBe(0);
    const edge = cursor.cursor!;
    const leaving = keys.filter((key) => shardOf(key, 2, layout) === 0 && shardOf(key, 4, layout) === 2);
    const moved = leaving.filter((key) => compareBytes(key, edge) <= 0).slice(0, 5);
    const unmoved = leaving.filter((key) => compareBytes(key, edge) > 0).slice(0, 5);
    expect(moved.length).toBe(5);
    expect(unmoved.length).toBe(5);
    // one key each way by a single write, the rest in one batch that spans both
    await add(moved[0]!, { at: "moved" });
    await add(unmoved[0]!, { at: "unmoved" });
    const lines = [...moved.slice(1), ...unmoved.slice(1), "x-fresh-1", "x-fresh-2"].map((key, index) => ({
      action: "add",
      scope: "raw",
      key,
      content: { batch: index },
    }));
    const batch = await call("POST", `/transaction/batch/${unit}`, ndjson(lines));
    expect(batch.status).toBe(200);
    expect(batch.body).toMatchObject({ count: lines.length });
    for (const line of lines) written.set(line.key, line.content);
    const gone = moved[1]!;
    expect((await call("PUT", `/transaction/execute/${unit}/raw`, { key: gone, action: "delete" })).status).toBe(200);
    written.set(gone, undefined);
    // a moved key written during the split is on its new shard already; one not yet moved, on its old one
    expect((await shardRows(unit, 2)).records.some((row) => row.key === moved[0] && row.scope === "raw")).toBe(true);
    expect((await shardRows(unit, 0)).records.some((row) => row.key === unmoved[0] && row.scope === "raw")).toBe(true);

    // reads find moved and unmoved keys alike, the writes of the split included
    const sample = keys.filter((_, index) => index % 37 === 0 && !written.has(keys[index]!));
    for (const key of sample) expect((await call("GET", `/access/fetch/${unit}/${key}`)).body.key).toBe(key);
    for (const [key, content] of written) {
      const read = await call("GET", `/access/fetch/${unit}/${key}/raw`);
      if (content === undefined) expect(read.status, key).toBe(404);
      else expect(read.body.content, key).toEqual({ raw: content });
    }
    const many = await call("POST", `/access/fetchMultiple/${unit}`, { keys: [...sample].reverse() });
    expect(many.body.records.map((record: { key: string }) => record.key)).toEqual([...sample].reverse());
    expect((await call("POST", `/reprocess/keys/${unit}/raw`, { keys: sample })).body).toMatchObject({ queued: sample.length, missing: [] });

    await releaseSplit(unit, 2);
    await driveSplit(unit, 4);
    expect((await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit).toMatchObject({ shards: 4, splitting: null });
    // every acknowledged write once, on its key's owner
    const live = new Set(keys);
    for (const [key, content] of written) {
      if (content === undefined) live.delete(key);
      else live.add(key);
    }
    const rows = await everyShard(unit, 4);
    const found = rows.flatMap((shard, index) =>
      shard.records.filter((row) => row.scope === "raw" && row.content !== null).map((row) => ({ key: row.key as string, index })),
    );
    expect(found.map(({ key }) => key).sort(compareBytes)).toEqual([...live].sort(compareBytes));
    for (const { key, index } of found) expect(index, key).toBe(shardOf(key, 4, layout));
    for (const [key, content] of written) {
      const read = await call("GET", `/access/fetch/${unit}/${key}/raw`);
      if (content === undefined) expect(read.status, key).toBe(404);
      else expect(read.body.content, key).toEqual({ raw: content });
    }
  });

  it("sends a batch's rows again when one of them is written while the batch travels: the new shard holds the written content, once", async () => {
    const unit = await createUnit({ shards: 1, contentProcessing: false, reprocessingQueue: true });
    const keys = await addMany(unit, "raw", 400);
    const layout = await unitLayout(unit);
    const leaving = keys.find((key) => shardOf(key, 2, layout) === 1)!;
    await holdSplit(unit, 1);
    expect((await call("PUT", `/admin/splitStorageUnit/${unit}`, { shards: 2 })).status).toBe(200);
    const { sent, cursor } = await moveOneBatch(unit, 0, 500, (instance) => writeInside(instance, leaving, { n: "written meanwhile" }));
    expect(cursor).toBe(keys[keys.length - 1]);
    // the first send carried the content as it was, the second the one written meanwhile
    const contentsOf = (records: Array<Record<string, unknown>>) =>
      records.filter((row) => row.key === leaving).map((row) => JSON.parse(String(row.content)));
    expect(sent.map(({ to, records }) => ({ to, contents: contentsOf(records) }))).toEqual([
      { to: 1, contents: [{ n: keys.indexOf(leaving) }] },
      { to: 1, contents: [{ n: "written meanwhile" }] },
    ]);
    expect(await contentsOn(unit, 1, leaving)).toEqual([{ n: "written meanwhile" }]);
    expect(await contentsOn(unit, 0, leaving)).toEqual([]);
    expect((await call("GET", `/access/fetch/${unit}/${leaving}/raw`)).body.content).toEqual({ raw: { n: "written meanwhile" } });

    await releaseSplit(unit, 1);
    await driveSplit(unit, 2);
    expect((await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit).toMatchObject({ shards: 2, records: keys.length });
    expect(await contentsOn(unit, 1, leaving)).toEqual([{ n: "written meanwhile" }]);
  });

  it("leaves on the old shard a key of its own written into a batch's range while the batch travels", async () => {
    const unit = await createUnit({ shards: 1, contentProcessing: false, reprocessingQueue: true });
    const keys = await addMany(unit, "raw", 400);
    const layout = await unitLayout(unit);
    // a new key between two of the batch's, that stays on shard 0
    const staying = keysOnShard(layout, 0, 1, `${keys[200]}-`, 2)[0]!;
    expect(compareBytes(keys[200]!, staying) < 0 && compareBytes(staying, keys[201]!) < 0).toBe(true);
    await holdSplit(unit, 1);
    expect((await call("PUT", `/admin/splitStorageUnit/${unit}`, { shards: 2 })).status).toBe(200);
    const { sent, cursor } = await moveOneBatch(unit, 0, 500, (instance) => writeInside(instance, staying, { n: "its own" }));
    // the batch's range held the key, but nothing of it went, and nothing was sent again for it
    expect(cursor).toBe(keys[keys.length - 1]);
    expect(sent.map(({ to }) => to)).toEqual([1]);
    expect(sent[0]!.records.some((row) => row.key === staying)).toBe(false);
    expect(await contentsOn(unit, 0, staying)).toEqual([{ n: "its own" }]);
    expect(await contentsOn(unit, 1, staying)).toEqual([]);
    expect((await call("GET", `/access/fetch/${unit}/${staying}/raw`)).body.content).toEqual({ raw: { n: "its own" } });

    await releaseSplit(unit, 1);
    await driveSplit(unit, 2);
    expect((await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit).toMatchObject({ shards: 2, records: keys.length + 1 });
    expect((await call("GET", `/access/fetch/${unit}/${staying}/raw`)).body.content).toEqual({ raw: { n: "its own" } });
  });

  it("resumes a split cut short mid-way without losing or doubling a row", async () => {
    const unit = await createUnit({ shards: 1, contentProcessing: false, reprocessingQueue: true });
    await setPipelines(unit, { raw: [] });
    const keys = await addMany(unit, "raw", 3000);
    const layout = await unitLayout(unit);
    expect((await call("PUT", `/reprocess/pause/${unit}`)).status).toBe(200);
    expect((await call("POST", `/reprocess/keys/${unit}/raw`, { keys: keys.slice(0, 500) })).status).toBe(200);
    const before = await everyShard(unit, 1);
    await holdSplit(unit, 1);
    expect((await call("PUT", `/admin/splitStorageUnit/${unit}`, { shards: 4 })).status).toBe(200);
    await releaseSplit(unit, 1);
    // the object dies while its alarm moves keys: whatever batch was on its way is sent again
    await runInDurableObject(shardStub(unit, 0), async (instance: StorageUnit, state) => {
      void instance.alarm().catch(() => undefined);
      for (;;) {
        const [row] = state.storage.sql.exec<{ moved: number }>("SELECT moved FROM split").toArray();
        if ((row?.moved ?? 0) > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      state.abort("killed mid-split");
    }).catch(() => undefined);
    const midway = (await status(unit)).splitting;
    expect(midway?.moved).toBeGreaterThan(0);
    expect(midway?.moved).toBeLessThan(3000);
    await driveSplit(unit, 4);
    const after = await everyShard(unit, 4);
    const strip = (entries: ReturnType<typeof byKey>) => entries.map(({ table, row }) => JSON.stringify([table, row])).sort();
    expect(strip(byKey(after))).toEqual(strip(byKey(before)));
    for (const entry of byKey(after)) expect(entry.shard).toBe(shardOf(entry.key, 4, layout));
    expect((await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit).toMatchObject({
      shards: 4,
      records: 3000,
      queue: { pending: 500 },
    });
  });

  it("refuses counts that are not a greater power of two up to 256", async () => {
    const unit = await createUnit({ shards: 4 });
    for (const shards of [4, 2, 6, 512, 0]) {
      const answer = await call("PUT", `/admin/splitStorageUnit/${unit}`, { shards });
      expect(answer.status, String(shards)).toBe(400);
      expect(answer.body.message).toBe("INVALID_REQUEST");
      expect(answer.body.detail).toContain("8, 16, 32, 64, 128, 256");
    }
    expect((await call("PUT", `/admin/splitStorageUnit/${unit}`, { shards: "8" })).status).toBe(400);
    expect((await call("PUT", `/admin/splitStorageUnit/nope-${Date.now()}`, { shards: 8 })).status).toBe(404);
    const full = await createUnit({ shards: 256 });
    const answer = await call("PUT", `/admin/splitStorageUnit/${full}`, { shards: 512 });
    expect(answer.status).toBe(400);
    expect(answer.body.detail).toContain("cannot be split further");
  });
});
