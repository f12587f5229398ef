/**
 * The Access API on units of 1, 8 and 64 shards (API.md, "Sharded storage units": every
 * route behaves as on one shard). Each n-shard unit is compared answer for answer with a
 * one-shard unit holding the same records.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { compareBytes } from "../src/routing/layout";
import { LIMITS } from "../src/limits";
import { call, createUnit, enc, ndjson } from "./helpers";

type Page = { records: Array<{ key: string; content: Record<string, unknown> }>; nextStartId?: string };

/** 600 numbered keys and keys that sort differently in UTF-16 and in UTF-8 bytes, or share a prefix. */
const KEYS = [
  ...Array.from({ length: 600 }, (_, i) => `k${i}`),
  "\uFFFF",
  "\u{10000}",
  "a\uFFFF",
  "a\u{10000}b",
  "é",
  "Z",
  "z",
  "same",
  "same-",
  "same-prefix",
  "same-prefix-1",
  "same-prefix-10",
  "same-prefix-2",
];
/** Every third key has an `index` scope too; version 1 on every write, so only `updatedAt` differs between units. */
const LINES = KEYS.flatMap((key, n) => [
  { action: "add", scope: "raw", key, content: { key, n }, version: 1 },
  ...(n % 3 === 0 ? [{ action: "add", scope: "index", key, content: { n }, version: 1 }] : []),
]);

/** A page without its `meta` (the write times differ between units). */
const bare = (page: Page) => ({
  keys: page.records.map((record) => record.key),
  contents: page.records.map((r) => r.content),
  next: page.nextStartId,
});

async function filled(shards: number): Promise<string> {
  const unit = await createUnit({ shards });
  expect((await call("POST", `/transaction/batch/${unit}`, ndjson(LINES))).body).toEqual({ message: "OK", count: LINES.length });
  return unit;
}

/** Every key of the unit through fetchPage pages of `size`, with the pages' cursors. */
async function walk(unit: string, size: number, scope = ""): Promise<{ keys: string[]; cursors: string[] }> {
  const keys: string[] = [];
  const cursors: string[] = [];
  let startId: string | undefined;
  do {
    const page = await call<Page>("GET", `/access/fetchPage/${unit}${scope}?batchSize=${size}${startId ? `&startId=${enc(startId)}` : ""}`);
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    expect(page.body.records.length).toBeLessThanOrEqual(size);
    keys.push(...page.body.records.map((record) => record.key));
    startId = page.body.nextStartId;
    if (startId) cursors.push(startId);
  } while (startId);
  return { keys, cursors };
}

let reference: string;
beforeAll(async () => {
  reference = await filled(1);
}, 60_000);

describe.each([1, 8, 64])("the Access API on a unit of %i shard(s)", (shards) => {
  let unit: string;
  beforeAll(async () => {
    unit = await filled(shards);
  }, 60_000);

  it("spreads its records over its shards", async () => {
    const info = (await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit;
    expect(info).toMatchObject({ records: KEYS.length, shards });
    expect(info.shardStats).toHaveLength(shards);
    // placement is keyed by the unit's random seed: with 613 keys on 64 shards one shard is
    // left empty about once in 250 units, three or more about once in 10^8
    const holding = info.shardStats.filter((stats: { records: number }) => stats.records > 0).length;
    expect(holding).toBeGreaterThanOrEqual(Math.max(1, shards - 2));
    expect(info.shardStats.reduce((total: number, stats: { records: number }) => total + stats.records, 0)).toBe(KEYS.length);
  });

  it("fetches a record whole, one scope of it, and answers 404 for a missing key", async () => {
    for (const key of ["k0", "k1", "\uFFFF", "\u{10000}", "a\u{10000}b", "same-prefix-1"]) {
      const n = KEYS.indexOf(key);
      const whole = await call("GET", `/access/fetch/${unit}/${enc(key)}`);
      expect(whole.body.content).toEqual(n % 3 === 0 ? { raw: { key, n }, index: { n } } : { raw: { key, n } });
      expect((await call("POST", `/access/fetch/${unit}/${enc(key)}/$record`)).body.content).toEqual(whole.body.content);
      expect((await call("GET", `/access/fetch/${unit}/${enc(key)}/raw`)).body.content).toEqual({ raw: { key, n } });
    }
    expect((await call("GET", `/access/fetch/${unit}/k1/index`)).body.message).toBe("KEY_NOT_FOUND");
    expect((await call("GET", `/access/fetch/${unit}/nope`)).status).toBe(404);
  });

  it("answers fetchMultiple in the order asked, GET and POST, leaving missing keys out", async () => {
    const asked = ["k599", "nope", "\uFFFF", "k1", "k0", "\u{10000}", "same", "k1", "k300"];
    const expected = asked.filter((key, i) => key !== "nope" && asked.indexOf(key) === i);
    const get = await call("GET", `/access/fetchMultiple/${unit}?keys=${asked.map(enc).join(",")}`);
    expect(get.body.records.map((record: { key: string }) => record.key)).toEqual(expected);
    const post = await call("POST", `/access/fetchMultiple/${unit}`, { keys: asked });
    expect(post.body).toEqual(get.body);
    const scoped = await call("POST", `/access/fetchMultiple/${unit}/index`, { keys: asked });
    expect(scoped.body.records.map((record: { key: string }) => record.key)).toEqual(["\uFFFF", "k0", "k300"]);
    expect(scoped.body.records[1].content).toEqual({ index: { n: 0 } });
  });

  it("pages through the whole unit in byte order with the cursors of a one-shard unit", async () => {
    const sorted = [...KEYS].sort(compareBytes);
    // JavaScript's own order differs: UTF-16 puts U+10000 before U+FFFF
    expect(sorted.indexOf("\uFFFF")).toBeLessThan(sorted.indexOf("\u{10000}"));
    const ours = await walk(unit, 97);
    expect(ours.keys).toEqual(sorted);
    expect(ours).toEqual(await walk(reference, 97));
    const scoped = await walk(unit, 50, "/index");
    expect(scoped.keys).toEqual(sorted.filter((key) => KEYS.indexOf(key) % 3 === 0));
    expect(scoped).toEqual(await walk(reference, 50, "/index"));
  });

  it("answers each page as a one-shard unit does, whatever the start and the size", async () => {
    for (const query of [
      "",
      "batchSize=1",
      "batchSize=1000",
      "batchSize=7&startId=same",
      "batchSize=5&startId=k59",
      "batchSize=3&startId=%EF%BF%BF",
      "startId=zz",
    ]) {
      const [ours, theirs] = await Promise.all([
        call<Page>("GET", `/access/fetchPage/${unit}?${query}`),
        call<Page>("GET", `/access/fetchPage/${reference}?${query}`),
      ]);
      expect(bare(ours.body), query).toEqual(bare(theirs.body));
    }
    const post = await call<Page>("POST", `/access/fetchPage/${unit}/index?batchSize=4&startId=k5`);
    expect(bare(post.body)).toEqual(bare((await call<Page>("POST", `/access/fetchPage/${reference}/index?batchSize=4&startId=k5`)).body));
    expect(post.body.records).toHaveLength(4);
  });
});

describe.each([1, 8, 64])("answers of large records on a unit of %i shard(s)", (shards) => {
  /** 12 records of nearly the content limit: more than the 8 MiB an answer may hold. */
  const big = Array.from({ length: 12 }, (_, i) => `big${String(i).padStart(2, "0")}`);
  const text = "x".repeat(LIMITS.contentBytes - 100);
  let unit: string;
  beforeAll(async () => {
    unit = await createUnit({ shards });
    for (let i = 0; i < big.length; i += 4) {
      const lines = big.slice(i, i + 4).map((key) => ({ action: "add", scope: "raw", key, content: { text } }));
      expect((await call("POST", `/transaction/batch/${unit}`, ndjson(lines))).body.message).toBe("OK");
    }
  }, 60_000);

  it("fetchMultiple stops before 8 MiB and lists the keys it did not reach, in order", async () => {
    const asked = [...big].reverse();
    const got: string[] = [];
    let left: string[] = asked;
    for (let round = 0; left.length > 0; round++) {
      expect(round).toBeLessThan(asked.length);
      const answer = await call("POST", `/access/fetchMultiple/${unit}`, { keys: left });
      expect(answer.status).toBe(200);
      const keys = answer.body.records.map((record: { key: string }) => record.key);
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.length * LIMITS.contentBytes).toBeLessThanOrEqual(LIMITS.listResponseBytes);
      expect([...keys, ...(answer.body.remainingKeys ?? [])]).toEqual(left);
      got.push(...keys);
      left = answer.body.remainingKeys ?? [];
    }
    expect(got).toEqual(asked);
  });

  it("fetchPage stops before 8 MiB with the first key it did not reach as nextStartId", async () => {
    const seen = await walk(unit, 20);
    expect(seen.keys).toEqual(big);
    expect(seen.cursors.length).toBeGreaterThan(0);
  });
});
