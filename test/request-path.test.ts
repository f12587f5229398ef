/**
 * A request to reprocess keys reaches only the shards that hold them and runs there the
 * statements that do its work: which keys have a record, their queue rows, the insert of the
 * new ones, the queue's counts and its history of the minute. The alarm is re-armed without
 * reading the unit again when it is already due; a paused or idle unit's alarm is still
 * armed, and every item queued is processed.
 */
import { describe, expect, it } from "vitest";
import { SqlStorage } from "../src/runtime/sql-storage";
import { runDurableObjectAlarm } from "cloudflare:test";
import { call, createUnit, ndjson, unitStub } from "./helpers";
import { setPipelines, status } from "./queue-helpers";
import { drainShards, keysOnShard, unitLayout } from "./support/shards";

/** The statements the units' SQLite runs while `fn` runs. */
async function statementsOf(fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const exec = SqlStorage.prototype.exec;
  SqlStorage.prototype.exec = function (this: SqlStorage, query: string, ...bindings: unknown[]) {
    seen.push(query.replace(/\s+/g, " ").trim());
    return exec.call(this, query, ...bindings);
  } as typeof exec;
  try {
    await fn();
  } finally {
    SqlStorage.prototype.exec = exec;
  }
  return seen;
}

/**
 * The work of queuing keys: read which have a record, count their queue rows, insert the new
 * ones, add them to the queue's counts and to its history of the minute.
 */
const QUEUING = [
  /^SELECT key FROM records /,
  /^SELECT queue\.state, .* FROM .* CROSS JOIN queue /,
  /^INSERT INTO queue /,
  /^UPDATE queue_counts /,
  /^INSERT INTO history /,
];
/** The history's pruning, once a minute per shard: a request may be the first of its minute. */
const ONCE_A_MINUTE = /^DELETE FROM history /;

/** A unit with the queue on, an empty pipeline on `raw` (an item completes as soon as the job takes it), records of `count` keys on its last shard, drained. */
async function unitWithRecords(shards: number, count: number): Promise<{ unit: string; keys: string[] }> {
  const unit = await createUnit({ shards, reprocessingQueue: true, contentProcessing: false });
  await setPipelines(unit, { raw: [] });
  const keys = keysOnShard(await unitLayout(unit), shards - 1, count);
  const lines = keys.map((key) => ({ action: "add", scope: "raw", key, content: { key } }));
  expect((await call("POST", `/transaction/batch/${unit}`, ndjson(lines))).body).toEqual({ message: "OK", count });
  await drainShards(unit, shards);
  return { unit, keys };
}

/** The statements of `fn` but the history's pruning. */
const workOf = async (fn: () => Promise<unknown>) => (await statementsOf(fn)).filter((statement) => !ONCE_A_MINUTE.test(statement));

const reprocessKeys = async (unit: string, keys: string[]) => (await call("POST", `/reprocess/keys/${unit}/raw`, { keys })).body;

describe.each([1, 8])("reprocess/keys on a unit of %i shard(s)", (shards) => {
  it("runs the five statements of its work, on the key's shard alone, when the alarm is already due; the items are processed", async () => {
    const { unit, keys } = await unitWithRecords(shards, 2);
    // the first request arms the alarm of the idle shard
    expect(await reprocessKeys(unit, [keys[0]!])).toEqual({ message: "OK", queued: 1, missing: [] });
    const statements = await workOf(async () => expect(await reprocessKeys(unit, [keys[1]!])).toEqual({ message: "OK", queued: 1, missing: [] }));
    expect(statements).toHaveLength(QUEUING.length);
    for (const [index, statement] of statements.entries()) expect(statement).toMatch(QUEUING[index]!);
    const before = await status(unit);
    expect(before).toMatchObject({ pending: 2 });
    await drainShards(unit, shards);
    expect(await status(unit)).toMatchObject({ pending: 0, assigned: 0, processed: before.processed + 2 });
  });

  it("queues on a paused unit, whose items are processed once it resumes", async () => {
    const { unit, keys } = await unitWithRecords(shards, 2);
    expect((await call("PUT", `/reprocess/pause/${unit}`)).body).toEqual({ message: "OK" });
    for (const key of keys) expect(await reprocessKeys(unit, [key])).toEqual({ message: "OK", queued: 1, missing: [] });
    const before = await status(unit);
    expect(before).toMatchObject({ pending: 2, paused: true });
    expect((await call("PUT", `/reprocess/resume/${unit}`)).body).toEqual({ message: "OK" });
    await drainShards(unit, shards);
    expect(await status(unit)).toMatchObject({ pending: 0, processed: before.processed + 2 });
  });
});

describe("reprocess/keys on an idle unit", () => {
  it("arms the alarm that processes the key", async () => {
    const { unit, keys } = await unitWithRecords(1, 1);
    expect(await runDurableObjectAlarm(unitStub(unit))).toBe(false);
    const before = await status(unit);
    expect(await reprocessKeys(unit, keys)).toEqual({ message: "OK", queued: 1, missing: [] });
    expect(await runDurableObjectAlarm(unitStub(unit))).toBe(true);
    expect(await status(unit)).toMatchObject({ pending: 0, processed: before.processed + 1 });
  });
});
