/**
 * A `reprocess/all` started while the unit splits (issue 21 row 4): once both have ended,
 * every record has reached the pipeline once, and the run counts each once, read alone or
 * listed. The split is stepped through the shards' alarms, one shard at a time, and the
 * run's start reaches the shards in the order that a fan-out overlapping the moves can give.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ADMIN_CALL } from "../src/unit/grants";
import { call, createUnit } from "./helpers";
import { addMany, recorded, recorder, setPipelines, status } from "./queue-helpers";
import { driveSplit, holdSplit, moveShards, releaseSplit, shardStub } from "./split-helpers";

const FROM = 4;
const TO = 16;
const RECORDS = 3000;

/**
 * A unit of {@link FROM} shards with {@link RECORDS} records whose pipeline records what it
 * processes (and what `before` does), its split to {@link TO} begun and held.
 */
async function splittingUnit(before?: (unit: string) => Promise<void>): Promise<{ unit: string; keys: string[] }> {
  const unit = await createUnit({ shards: FROM, reprocessingQueue: true, contentProcessing: false });
  await setPipelines(unit, { raw: [recorder(unit)] });
  const keys = await addMany(unit, "raw", RECORDS);
  await before?.(unit);
  await holdSplit(unit, FROM);
  expect((await call("PUT", `/admin/splitStorageUnit/${unit}`, { shards: TO })).status).toBe(200);
  return { unit, keys };
}

/** Old shards `indexes` move all their keys while the others stay held: the split goes on. */
async function moveAll(unit: string, indexes: number[]): Promise<void> {
  await moveShards(unit, indexes);
  expect((await status(unit)).splitting).not.toBeNull();
}

/** Ends the split if one runs, then runs every shard's alarm until the run is done. */
async function finish(unit: string, runId: string) {
  const { splitting } = await status(unit);
  const shards = splitting ? TO : ((await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit.shards as number);
  if (splitting) {
    await releaseSplit(unit, FROM);
    await driveSplit(unit, TO);
  }
  for (let round = 0; round < 100; round++) {
    const { body } = await call("GET", `/reprocess/run/${unit}/${runId}`);
    if (body.run?.state === "done") return;
    for (let index = 0; index < shards; index++) await runDurableObjectAlarm(shardStub(unit, index));
  }
  throw new Error(`run ${runId} of ${unit} did not end`);
}

/** The run, read alone and listed, is done with every record counted once, and the pipeline saw each record once. */
async function expectEveryRecordOnce(unit: string, runId: string, keys: string[]): Promise<void> {
  const counts = { state: "done", total: keys.length, processed: keys.length, failed: 0 };
  expect((await call("GET", `/reprocess/run/${unit}/${runId}`)).body.run).toMatchObject(counts);
  const listed = (await call("GET", `/reprocess/runs/${unit}`)).body.runs;
  expect(listed).toHaveLength(1);
  expect(listed[0]).toMatchObject({ id: runId, ...counts });
  const seen = recorded(unit, "process").map((call) => call.key!);
  const missed = keys.filter((key) => !seen.includes(key));
  expect(missed.length, `missed: ${missed.slice(0, 5).join(", ")}`).toBe(0);
  expect(seen.length).toBe(keys.length);
  expect((await status(unit)).splitting).toBeNull();
}

describe("a reprocess/all started during a split, 4 → 16 shards", () => {
  it("reaches every record when new shards start it before their keys arrive and old shards after they left", async () => {
    const { unit, keys } = await splittingUnit();
    const run = { runId: "run-across-the-moves", trigger: "api" as const };
    for (let index = FROM; index < TO; index++)
      expect(await shardStub(unit, index).reprocessAll(ADMIN_CALL, "raw", {}, run)).toHaveProperty("queued");
    // shards 1-3 move every key they send away; shard 0 has moved nothing yet
    await moveAll(unit, [1, 2, 3]);
    for (let index = 0; index < FROM; index++) expect(await shardStub(unit, index).reprocessAll(ADMIN_CALL, "raw", {}, run)).toHaveProperty("queued");
    await finish(unit, run.runId);
    await expectEveryRecordOnce(unit, run.runId, keys);
  });

  it("reaches every record when old shards start it before they move and new shards once the keys have come", async () => {
    const { unit, keys } = await splittingUnit();
    const run = { runId: "run-before-the-moves", trigger: "api" as const };
    for (let index = 0; index < FROM; index++) expect(await shardStub(unit, index).reprocessAll(ADMIN_CALL, "raw", {}, run)).toHaveProperty("queued");
    await moveAll(unit, [1, 2, 3]);
    for (let index = FROM; index < TO; index++)
      expect(await shardStub(unit, index).reprocessAll(ADMIN_CALL, "raw", {}, run)).toHaveProperty("queued");
    await finish(unit, run.runId);
    await expectEveryRecordOnce(unit, run.runId, keys);
  });

  it("is listed with every shard's share once the split has ended, newest first, though new shards learnt an older run after it", async () => {
    const { unit, keys } = await splittingUnit(async (unit) => {
      // a run done before the split: the old shards hand it to their new shards once they have moved everything
      const older = await call("POST", `/reprocess/all/${unit}/raw?prefix=k0000`);
      expect(older.status).toBe(200);
      await finish(unit, older.body.runId);
    });
    const started = await call("POST", `/reprocess/all/${unit}/raw`);
    expect(started.status).toBe(200);
    await finish(unit, started.body.runId);
    const newest = (await call("GET", `/reprocess/runs/${unit}?limit=1`)).body.runs;
    expect(newest).toHaveLength(1);
    expect(newest[0]).toMatchObject({ id: started.body.runId, state: "done", total: keys.length, processed: keys.length });
    const both = (await call("GET", `/reprocess/runs/${unit}?limit=2`)).body.runs;
    expect(both.map((run: { id: string; total: number }) => [run.id, run.total])).toEqual([
      [started.body.runId, keys.length],
      [expect.any(String), 100],
    ]);
  });

  it("over HTTP, with part of the keys moved: the run ends done with total = processed = the records, each processed once", async () => {
    const { unit, keys } = await splittingUnit();
    await moveAll(unit, [1, 2]);
    const started = await call("POST", `/reprocess/all/${unit}/raw`);
    expect(started.status).toBe(200);
    await moveAll(unit, [3]);
    await finish(unit, started.body.runId);
    await expectEveryRecordOnce(unit, started.body.runId, keys);
  });
});
