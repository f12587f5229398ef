/**
 * Keyed placement (API.md, "Sharded storage units"; src/routing/placement.ts): a unit created
 * now draws a secret seed on shard 0 and every shard holds it, so keys a writer chose to
 * collide under the unkeyed FNV-1a spread over the shards; a unit created before keyed
 * placement (no seed in its layout) keeps FNV-1a, through a split too; and no answer a
 * client or operator sees, nor any log line, shows the seed.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { fnv1a32, halfSipHash32, placementHash, shardOf } from "../src/routing/placement";
import { ADMIN_CALL } from "../src/unit/grants";
import { call, createUnit, ndjson } from "./helpers";
import { addMany, setPipelines, setSettings, status, waitForStatus } from "./queue-helpers";
import { createUser, grant } from "./security-helpers";
import { driveSplit } from "./split-helpers";
import { captureLogs } from "./support/logs";
import { keyPerShard, shardLayout, shardStub, unitLayout } from "./support/shards";

const SEED = /^[0-9a-f]{16}$/;

/** `count` keys `<prefix><n>` that FNV-1a mod `shards` puts on `shard`: what a writer aiming at one shard of an unkeyed unit sends. */
function fnvCollisions(count: number, shards: number, shard: number, prefix = "w"): string[] {
  const keys: string[] = [];
  for (let n = 0; keys.length < count; n++) if (fnv1a32(`${prefix}${n}`) % shards === shard) keys.push(`${prefix}${n}`);
  return keys;
}

async function write(unit: string, keys: string[]): Promise<void> {
  const lines = keys.map((key) => ({ action: "add", scope: "raw", key, content: { key } }));
  expect((await call("POST", `/transaction/batch/${unit}`, ndjson(lines))).body).toEqual({ message: "OK", count: keys.length });
}

async function recordsPerShard(unit: string): Promise<number[]> {
  return (await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit.shardStats.map((stats: { records: number }) => stats.records);
}

/** The seed every shard of `unit` holds: one value, or the test fails. */
async function seedOf(unit: string, shards: number): Promise<string | undefined> {
  const seeds = new Set<string | undefined>();
  for (let index = 0; index < shards; index++) seeds.add((await shardLayout(unit, index)).seed);
  expect(seeds.size, `the shards of ${unit} hold ${seeds.size} seeds`).toBe(1);
  return [...seeds][0];
}

describe("a unit created now", () => {
  it("spreads over its 8 shards the keys that FNV-1a mod 8 puts all on one shard", async () => {
    const unit = await createUnit({ shards: 8 });
    // 400 keys a writer chose for shard 3 of an unkeyed unit: under a seed, a shard left
    // without one is a chance of 8 × (7/8)^400, about 5e-23
    const aimed = fnvCollisions(400, 8, 3);
    await write(unit, aimed);
    const perShard = await recordsPerShard(unit);
    for (const records of perShard) expect(records).toBeGreaterThan(0);
    // each on the shard the unit's seed places it
    const layout = await unitLayout(unit);
    expect(perShard).toEqual(perShard.map((_, index) => aimed.filter((key) => shardOf(key, 8, layout) === index).length));
  });

  it("holds one seed on every shard, another than any other unit's, and a new one when made again", async () => {
    const [a, b] = [await createUnit({ shards: 8 }), await createUnit({ shards: 8 })];
    const [seedA, seedB] = [await seedOf(a, 8), await seedOf(b, 8)];
    expect(seedA).toMatch(SEED);
    expect(seedB).toMatch(SEED);
    expect(seedA).not.toBe(seedB);
    // a unit of one shard draws one too
    expect(await seedOf(await createUnit(), 1)).toMatch(SEED);
    expect((await call("DELETE", `/admin/deleteStorageUnit/${a}`)).status).toBe(200);
    await createUnit({ shards: 4 }, a);
    const again = await seedOf(a, 4);
    expect(again).toMatch(SEED);
    expect(again).not.toBe(seedA);
  });
});

describe("a unit created before keyed placement", () => {
  /** A unit of `shards` whose layout has no seed, as migration 12 leaves one made before it: each shard's row without it, read afresh. */
  async function unseededUnit(shards: number): Promise<string> {
    const unit = await createUnit({ shards, contentProcessing: false, reprocessingQueue: true });
    for (let index = 0; index < shards; index++) {
      await runInDurableObject(shardStub(unit, index), (_instance, state) => {
        state.storage.sql.exec("UPDATE unit SET seed = NULL");
      });
      await evictDurableObject(shardStub(unit, index));
    }
    return unit;
  }

  it("keeps FNV-1a placement, and keeps it through a split", async () => {
    const unit = await unseededUnit(8);
    expect(await seedOf(unit, 8)).toBeUndefined();
    // the Worker still routes by the layout it learnt with the seed: the shards send it on to theirs
    const aimed = fnvCollisions(40, 8, 3);
    await write(unit, aimed);
    expect(await recordsPerShard(unit)).toEqual([0, 0, 0, 40, 0, 0, 0, 0]);
    const layout = await unitLayout(unit);
    expect(layout).toEqual({ shards: 8, splitTo: null });
    const spread = keyPerShard(layout, "s");
    expect(spread.map((key) => fnv1a32(key) % 8)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    await write(unit, spread);
    expect(await recordsPerShard(unit)).toEqual([1, 1, 1, 41, 1, 1, 1, 1]);

    expect((await call("PUT", `/admin/splitStorageUnit/${unit}`, { shards: 16 })).status).toBe(200);
    await driveSplit(unit, 16);
    expect(await seedOf(unit, 16)).toBeUndefined();
    const all = [...aimed, ...spread];
    const expected = Array.from({ length: 16 }, (_, index) => all.filter((key) => fnv1a32(key) % 16 === index).length);
    expect(await recordsPerShard(unit)).toEqual(expected);
    // on shards 3 and 11 alone: a split moves a key of shard i only to a shard j with j mod 8 = i
    expect(expected[3]! + expected[11]!).toBe(41);
    for (const key of all.filter((_, n) => n % 5 === 0)) expect((await call("GET", `/access/fetch/${unit}/${key}`)).body.key).toBe(key);
  });
});

describe("the placement seed", () => {
  it("is in no answer a client, the console or an operator gets, and in no log line", async () => {
    const logs = captureLogs();
    const unit = await createUnit({ shards: 8, reprocessingQueue: true });
    const seeds = [await seedOf(unit, 8)];
    expect(seeds[0]).toMatch(SEED);
    await setSettings(unit, { maxAttempts: 1 });
    await setPipelines(unit, { raw: [{ module: "Fault", settings: { failKeys: ["k000003"] } }] });
    const keys = await addMany(unit, "raw", 50);
    await waitForStatus(unit, (s) => s.pending === 0 && s.assigned === 0 && s.failed === 1, "the writes' items");
    const user = await createUser();
    await grant("rw", user.name, unit);
    const asUser = { token: user.token };
    const runId = (await call("POST", `/reprocess/all/${unit}/raw`)).body.runId as string;
    await waitForStatus(unit, (s) => s.pending === 0 && s.assigned === 0, "the run");

    const answers: Array<{ call: string; status: number; text: string }> = [];
    const ask = async (method: string, path: string, body?: unknown, options?: { token: string }) => {
      const answer = await call(method, path, body, options);
      const text = `${JSON.stringify(answer.body)} ${JSON.stringify([...answer.headers])}`;
      answers.push({ call: `${method} ${path}${options ? " as the user" : ""}`, status: answer.status, text });
      return answer;
    };
    /** Every read a client, the console (src/console: the same routes) and an operator make of the unit. */
    const everyRead = async () => {
      for (const options of [undefined, asUser]) {
        await ask("GET", `/reprocess/status/${unit}`, undefined, options);
        await ask("GET", `/reprocess/runs/${unit}`, undefined, options);
        await ask("GET", `/reprocess/run/${unit}/${runId}`, undefined, options);
        await ask("GET", `/reprocess/history/${unit}?minutes=5`, undefined, options);
        await ask("GET", `/reprocess/failed/${unit}`, undefined, options);
        await ask("GET", `/access/fetch/${unit}/${keys[7]}`, undefined, options);
        await ask("GET", `/access/fetchPage/${unit}?batchSize=100`, undefined, options);
        await ask("POST", `/access/fetchMultiple/${unit}`, { keys: keys.slice(0, 10) }, options);
        await ask("PUT", `/transaction/add/${unit}/raw`, { key: "extra", content: {} }, options);
        await ask("POST", `/reprocess/keys/${unit}/raw`, { keys: ["k000001", "nope"] }, options);
        await ask("GET", "/security/whoami", undefined, options);
      }
      await ask("GET", `/admin/getStorageUnit/${unit}`);
      await ask("GET", "/admin/listStorageUnits");
      await ask("GET", `/admin/getContentProcessingModules/${unit}`);
      await ask("GET", `/admin/getReprocessSchedule/${unit}`);
      await ask("GET", "/security/users");
      await ask("GET", "/metrics");
      await ask("GET", "/dashboard");
    };
    await everyRead();
    expect(answers.filter((answer) => answer.status !== 200).map((answer) => answer.call)).toEqual([]);

    // the unit made again behind this isolate's cached layout (another seed): every call meets MOVED on the way
    for (let index = 7; index >= 0; index--) expect(await shardStub(unit, index).destroy(ADMIN_CALL)).toEqual({ name: unit });
    const options = { contentProcessing: true, reprocessingQueue: true };
    expect(await shardStub(unit, 0).create(unit, options, 0, { shards: 4, splitTo: null })).toHaveProperty("createdAt");
    for (let index = 0; index < 4; index++)
      expect(await shardStub(unit, index).setModules(ADMIN_CALL, { modules: { raw: [] }, settings: {} })).toEqual({ ok: true });
    seeds.push(await seedOf(unit, 4));
    expect(seeds[1]).toMatch(SEED);
    await grant("rw", user.name, unit);
    await addMany(unit, "raw", 50);
    await everyRead();
    // and a split, whose steps answer MOVED to calls routed by the layout before them
    expect((await ask("PUT", `/admin/splitStorageUnit/${unit}`, { shards: 8 })).status).toBe(200);
    await everyRead();
    await driveSplit(unit, 8);
    await everyRead();
    expect((await status(unit)).splitting).toBeNull();

    // MOVED stayed inside the Worker: nothing outside the contract came back (the remade unit has no runs, writes wait while it splits)
    expect(
      answers.filter((answer) => answer.status >= 500 || answer.text.includes("MOVED")).map((answer) => `${answer.call} ${answer.status}`),
    ).toEqual([]);
    for (const seed of seeds) {
      for (const answer of answers) expect(answer.text, answer.call).not.toContain(seed!);
      for (const entry of logs.entries) expect(JSON.stringify(entry)).not.toContain(seed!);
    }
  });
});

describe("a key's placement hash", () => {
  // short and long keys in turn: the hash reads a key's bytes from a buffer it reuses
  const KEYS = [
    "",
    "a",
    "foobar",
    "doc-00000042",
    "é",
    "日本語のキー",
    "emoji 🦊 key",
    "lone \ud800 surrogate",
    "x".repeat(1_000),
    "k",
    "ü".repeat(300),
    "z",
  ];

  it("is FNV-1a over the key's UTF-8 bytes for a unit without a seed (the published test values)", () => {
    expect([fnv1a32(""), fnv1a32("a"), fnv1a32("foobar")]).toEqual([0x811c9dc5, 0xe40c292c, 0xbf9cf968]);
    for (const key of KEYS) expect(placementHash(key, {}), JSON.stringify(key)).toBe(fnvOfBytes(new TextEncoder().encode(key)));
  });

  it("is HalfSipHash of the key's UTF-8 bytes under the seed, whatever its characters", () => {
    // the reference implementation's first test values (key 00..07, messages of 0 and 1 bytes: 00)
    expect([halfSipHash32(new Uint8Array(0), 0x03020100, 0x07060504), halfSipHash32(Uint8Array.of(0), 0x03020100, 0x07060504)]).toEqual([
      0x5b9f35a9, 0xb85a4727,
    ]);
    const layout = { seed: "0001020304050607" };
    for (const key of KEYS)
      expect(placementHash(key, layout), JSON.stringify(key)).toBe(halfSipHash32(new TextEncoder().encode(key), 0x03020100, 0x07060504));
  });

  it("puts every key of a unit of one shard on shard 0", () => {
    for (const key of KEYS) expect(shardOf(key, 1, { seed: "0001020304050607" })).toBe(0);
  });
});

function fnvOfBytes(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193);
  return hash >>> 0;
}
