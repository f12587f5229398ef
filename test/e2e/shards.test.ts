/**
 * The suite's units are sharded (client.ts, E2E_SHARDS): a unit answers as one across its
 * shards, and a self-hosted server keeps each shard in its own SQLite file
 * (`<dataDir>/STORAGE_UNIT/<id>.sqlite`, the id derived from the shard's object name as on
 * Workers), so each shard has its own database and its own write lock.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { shardName } from "../../src/shards/layout";
import { shardOf } from "../../src/shards/placement";
import { ObjectNamespace } from "../../src/runtime/objects";
import { E2E_SHARDS, enc, ok, target, uniqueUnit } from "./client";

const { dataDir, kind } = inject("e2e");

/** One key per shard, the key of shard i at index i. */
function keyPerShard(): string[] {
  const keys = new Array<string>(E2E_SHARDS);
  for (let n = 0; keys.filter(Boolean).length < E2E_SHARDS; n++) keys[shardOf(`k${n}`, E2E_SHARDS, {})] ??= `k${n}`;
  return keys;
}

describe(`a unit of ${E2E_SHARDS} shards`, () => {
  it("stores a key on every shard and reads as one unit", async () => {
    const server = target();
    const unit = uniqueUnit("shards");
    await ok(server.call("PUT", `/admin/createStorageUnit/${unit}`));
    const keys = keyPerShard();
    const lines = keys.map((key) => JSON.stringify({ action: "add", scope: "raw", key, content: { key } }));
    expect(await ok(server.call("POST", `/transaction/batch/${unit}`, lines.join("\n")))).toEqual({ message: "OK", count: E2E_SHARDS });
    const info = (await ok(server.call("GET", `/admin/getStorageUnit/${unit}`))).storageUnit;
    expect(info).toMatchObject({ shards: E2E_SHARDS, records: E2E_SHARDS });
    expect(info.shardStats.map((stats: { records: number }) => stats.records)).toEqual(keys.map(() => 1));
    for (const key of keys) expect((await ok(server.call("GET", `/access/fetch/${unit}/${enc(key)}`))).content).toEqual({ raw: { key } });
    const page = await ok(server.call("GET", `/access/fetchPage/${unit}?batchSize=1000`));
    expect(page.records).toHaveLength(E2E_SHARDS);

    if (kind === "wrangler" || dataDir === null) return;
    // a self-hosted server: one SQLite file per shard
    const names = new ObjectNamespace(undefined as never, "STORAGE_UNIT");
    const files = keys.map((_, index) => join(dataDir, "STORAGE_UNIT", `${names.idFromName(shardName(unit, index))}.sqlite`));
    for (const file of files) expect(existsSync(file), file).toBe(true);
    expect(new Set(files.map((file) => statSync(file).ino)).size).toBe(E2E_SHARDS);
  });
});
