/**
 * The Reprocess API on units of 1, 8 and 64 shards: calls reach every shard concerned,
 * counts are sums, and the failed list pages through every shard under one cursor, in the
 * order a one-shard unit gives. Each shard runs its own job (drainShards drives them all).
 */
import { describe, expect, it } from "vitest";
import { FILL_CHUNK } from "../src/unit/fills";
import { call, createUnit, enc, ndjson } from "./helpers";
import { setPipelines, setSettings, status } from "./queue-helpers";
import { drainShards, keyPerShard, keysOnShard, unitLayout } from "./support/shards";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function write(unit: string, keys: string[], scopes = ["raw"]): Promise<void> {
  const lines = keys.flatMap((key) => scopes.map((scope) => ({ action: "add", scope, key, content: { key } })));
  expect((await call("POST", `/transaction/batch/${unit}`, ndjson(lines))).body).toEqual({ message: "OK", count: lines.length });
}

/** A unit with the queue on, an empty pipeline on `raw` (its items complete at once), and its job paused. */
async function pausedUnit(shards: number): Promise<string> {
  const unit = await createUnit({ shards, reprocessingQueue: true, contentProcessing: false });
  await setPipelines(unit, { raw: [] });
  expect((await call("PUT", `/reprocess/pause/${unit}`)).body).toEqual({ message: "OK" });
  return unit;
}

/** Every failed item through pages of `limit`, each page's items without their time. */
async function failedWalk(unit: string, limit: number): Promise<Array<Array<{ scope: string; key: string; attempts: number; lastError: string }>>> {
  const pages = [];
  let cursor: string | undefined;
  do {
    const page = await call("GET", `/reprocess/failed/${unit}?limit=${limit}${cursor ? `&cursor=${enc(cursor)}` : ""}`);
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    pages.push(page.body.items.map(({ failedAt: _, ...item }: { failedAt: string }) => item));
    cursor = page.body.nextCursor;
  } while (cursor);
  return pages;
}

/** One key `a<n>` and one key `b<n>` on each shard of `unit`. */
async function keysOf(unit: string): Promise<{ a: string[]; b: string[] }> {
  const layout = await unitLayout(unit);
  return { a: keyPerShard(layout, "a"), b: keyPerShard(layout, "b") };
}

describe.each([1, 8, 64])("the Reprocess API on a unit of %i shard(s)", (shards) => {
  it("queues by key, by keys and by prefix and since on every shard; pause, resume, purge and reset act on all", async () => {
    const unit = await pausedUnit(shards);
    const { a, b } = await keysOf(unit);
    await write(unit, a);
    await sleep(5);
    const since = new Date().toISOString();
    await write(unit, b);
    for (const key of a) expect((await call("POST", `/reprocess/key/${unit}/${key}/raw`)).body).toEqual({ message: "OK" });
    expect((await call("GET", `/reprocess/key/${unit}/nope/raw`)).body.message).toBe("KEY_NOT_FOUND");
    expect(await status(unit)).toMatchObject({ pending: shards, paused: true });
    expect((await call("POST", `/reprocess/purge/${unit}`)).body).toEqual({ message: "OK", purged: shards });

    const asked = ["nope1", ...b, "nope0", b[0]];
    expect((await call("POST", `/reprocess/keys/${unit}/raw`, { keys: asked })).body).toEqual({
      message: "OK",
      queued: shards,
      missing: ["nope1", "nope0"],
    });
    expect((await call("GET", `/reprocess/keys/${unit}/raw?keys=${["zz", ...a, "yy"].join(",")}`)).body).toEqual({
      message: "OK",
      queued: shards,
      missing: ["zz", "yy"],
    });
    expect((await call("POST", `/reprocess/purge/${unit}`)).body.purged).toBe(2 * shards);

    expect((await call("GET", `/reprocess/all/${unit}/raw?prefix=a`)).body).toMatchObject({
      message: "OK",
      queued: shards,
      runId: expect.any(String),
    });
    expect((await call("POST", `/reprocess/purge/${unit}`)).body.purged).toBe(shards);
    expect((await call("POST", `/reprocess/all/${unit}/raw?since=${enc(since)}`)).body).toMatchObject({
      message: "OK",
      queued: shards,
      runId: expect.any(String),
    });
    // every key that has the scope counts, the ones already pending too
    expect((await call("POST", `/reprocess/all/${unit}/raw`)).body).toMatchObject({ message: "OK", queued: 2 * shards, runId: expect.any(String) });
    expect(await status(unit)).toMatchObject({ pending: 2 * shards, assigned: 0, filling: false, processed: 0 });
    expect((await call("POST", `/reprocess/reset/${unit}`)).body).toEqual({ message: "OK", unassigned: 0 });

    await drainShards(unit, shards);
    expect(await status(unit)).toMatchObject({ pending: 2 * shards, processed: 0 });
    expect((await call("PUT", `/reprocess/resume/${unit}`)).body).toEqual({ message: "OK" });
    await drainShards(unit, shards);
    expect(await status(unit)).toMatchObject({ pending: 0, paused: false, processed: 2 * shards });
  });

  it("shows a shard's unfinished reprocess/all as the unit filling", async () => {
    const unit = await pausedUnit(shards);
    const { a } = await keysOf(unit);
    await write(unit, [...a, ...keysOnShard(await unitLayout(unit), shards - 1, FILL_CHUNK + 10)]);
    // the last shard holds FILL_CHUNK + 11 keys: it queues one chunk at once and fills the rest from its alarm
    expect((await call("POST", `/reprocess/all/${unit}/raw`)).body.queued).toBe(FILL_CHUNK + 10 + shards);
    expect(await status(unit)).toMatchObject({ filling: true, fillRemaining: 11, pending: FILL_CHUNK + shards - 1 });
    expect((await call("POST", `/reprocess/purge/${unit}`)).body.purged).toBe(FILL_CHUNK + shards - 1);
    expect(await status(unit)).toMatchObject({ filling: false, pending: 0 });
  });

  it("pages the failed items of every shard in one order under one cursor, and retries and purges them", async () => {
    const [unit, reference] = [
      await createUnit({ shards, reprocessingQueue: true, contentProcessing: false }),
      await createUnit({ reprocessingQueue: true, contentProcessing: false }),
    ];
    const { a, b } = await keysOf(unit);
    const keys = [...a, ...b];
    for (const target of [unit, reference]) {
      await setPipelines(target, {
        raw: [{ module: "Fault", settings: { failAll: true } }],
        index: [{ module: "Fault", settings: { failAll: true } }],
      });
      await setSettings(target, { maxAttempts: 1 });
      await write(target, keys, ["raw", "index"]);
      for (const scope of ["raw", "index"]) expect((await call("POST", `/reprocess/all/${target}/${scope}`)).body.queued).toBe(keys.length);
    }
    await drainShards(unit, shards);
    await drainShards(reference, 1);
    const total = 2 * keys.length;
    expect(await status(unit)).toMatchObject({ failed: total, pending: 0, processed: 0 });
    const pages = await failedWalk(unit, 7);
    expect(pages.flat()).toHaveLength(total);
    expect(pages.slice(0, -1).every((page) => page.length === 7)).toBe(true);
    expect(pages).toEqual(await failedWalk(reference, 7));

    const retried = [b[0]!, "nope", a[a.length - 1]!];
    expect((await call("POST", `/reprocess/retryFailed/${unit}`, { keys: retried })).body).toEqual({ message: "OK", requeued: 4 });
    expect(await status(unit)).toMatchObject({ failed: total - 4, pending: 4 });
    expect((await call("POST", `/reprocess/purge/${unit}`)).body.purged).toBe(4);
    expect((await call("POST", `/reprocess/retryFailed/${unit}`)).body).toEqual({ message: "OK", requeued: total - 4 });
    await drainShards(unit, shards);
    expect(await status(unit)).toMatchObject({ failed: total - 4, pending: 0 });
    expect((await call("POST", `/reprocess/purgeFailed/${unit}`)).body).toEqual({ message: "OK", purged: total - 4 });
    expect(await status(unit)).toMatchObject({ failed: 0 });
    expect(await failedWalk(unit, 7)).toEqual([[]]);
  });
});
