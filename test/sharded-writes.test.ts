/**
 * The Transaction API on units of 1, 8 and 64 shards: every policy on a key of every shard,
 * and batches whose lines spread over the shards answer as on a one-shard unit.
 */
import { describe, expect, it } from "vitest";
import { call, createUnit, enc, ndjson } from "./helpers";
import { keyPerShard, unitLayout } from "./support/shards";

const fetched = async (unit: string, key: string) => (await call("GET", `/access/fetch/${unit}/${enc(key)}`)).body;

describe.each([1, 8, 64])("the Transaction API on a unit of %i shard(s)", (shards) => {
  it("applies add with each policy and version on a key of every shard", async () => {
    const unit = await createUnit({ shards });
    const keys = keyPerShard(await unitLayout(unit));
    for (const key of keys) {
      const add = (scope: string, body: object) => call("PUT", `/transaction/add/${unit}/${scope}`, { key, ...body });
      expect((await add("raw", { content: { v: 1 }, policy: "new", version: 10 })).body).toEqual({ message: "OK" });
      expect((await add("raw", { content: { v: 2 }, policy: "new" })).body.message).toBe("KEY_ALREADY_EXISTS");
      expect((await add("raw", { content: { v: 0 }, version: 9 })).body.message).toBe("NEWER_VERSION_ALREADY_EXISTS");
      expect((await call("POST", `/transaction/add/${unit}/index`, { key, content: { i: 1 }, version: 10 })).body).toEqual({ message: "OK" });
      expect((await fetched(unit, key)).content).toEqual({ raw: { v: 1 }, index: { i: 1 } });
      expect((await add("raw", { content: { v: 3 }, policy: "overwrite", version: 11 })).body).toEqual({ message: "OK" });
      expect((await fetched(unit, key)).content).toEqual({ raw: { v: 3 } });
    }
    const info = (await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit;
    expect(info.records).toBe(shards);
    for (const stats of info.shardStats) expect(stats.records).toBe(1);
  });

  it("deletes one scope or the whole record on every shard, with each policy and version", async () => {
    const unit = await createUnit({ shards });
    const keys = keyPerShard(await unitLayout(unit));
    const lines = keys.flatMap((key) => ["raw", "index"].map((scope) => ({ action: "add", scope, key, content: { key }, version: 5 })));
    expect((await call("POST", `/transaction/batch/${unit}`, ndjson(lines))).body.count).toBe(lines.length);
    for (const key of keys) {
      const execute = (scope: string, body: object) => call("POST", `/transaction/execute/${unit}/${scope}`, { key, action: "delete", ...body });
      expect((await execute("raw", { version: 4 })).body.message).toBe("NEWER_VERSION_ALREADY_EXISTS");
      expect((await execute("index", { policy: "mustexist" })).body).toEqual({ message: "OK" });
      expect((await fetched(unit, key)).content).toEqual({ raw: { key } });
      expect((await execute("index", { policy: "mustexist" })).body.message).toBe("KEY_NOT_FOUND");
      expect((await call("PUT", `/transaction/execute/${unit}/$record`, { key, action: "delete" })).body).toEqual({ message: "OK" });
      expect((await call("GET", `/access/fetch/${unit}/${enc(key)}`)).status).toBe(404);
      // the tombstone keeps an older write out
      expect((await call("PUT", `/transaction/add/${unit}/raw`, { key, content: {}, version: 1 })).body.message).toBe("NEWER_VERSION_ALREADY_EXISTS");
    }
    expect((await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit.records).toBe(0);
  });

  it("answers a batch with per-line errors and counts as a one-shard unit does", async () => {
    const [unit, reference] = [await createUnit({ shards }), await createUnit()];
    const keys = keyPerShard(await unitLayout(unit));
    const first = keys.map((key) => ({ action: "add", scope: "raw", key, content: { key }, version: 5 }));
    const second = [
      ...keys.flatMap((key, i) => [
        { action: "add", scope: "raw", key, content: { again: true }, policy: "new" },
        { action: "add", scope: "raw", key, content: { older: true }, version: 4 },
        { action: "delete", scope: i % 2 ? "raw" : "$record", key, policy: "mustexist" },
        { action: "delete", scope: "raw", key: `${key}-missing`, policy: "mustexist" },
        { action: "add", scope: "index", key: `${key}-new`, content: { i } },
      ]),
      { action: "nonsense", key: "x" },
    ];
    const answers = [];
    for (const target of [unit, reference]) {
      expect((await call("POST", `/transaction/batch/${target}`, ndjson(first))).body).toEqual({ message: "OK", count: keys.length });
      answers.push((await call("POST", `/transaction/batch/${target}`, `${ndjson(second)}\n{not json`)).body);
    }
    const [ours, theirs] = answers as [Record<string, any>, Record<string, any>];
    expect(ours).toMatchObject({ message: "COMPLETED_WITH_ERRORS", count: 2 * keys.length });
    expect(ours.errors).toHaveLength(3 * keys.length + 2);
    expect(ours.errors.map((error: { line: number }) => error.line)).toEqual(
      [...ours.errors.map((error: { line: number }) => error.line)].sort((a, b) => a - b),
    );
    expect(ours).toEqual(theirs);
    const info = (await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit;
    expect(info.records).toBe(keys.length);
  });
});
