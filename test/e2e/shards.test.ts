/**
 * The suite's units are sharded (client.ts, E2E_SHARDS): a unit answers as one across its
 * shards, and a self-hosted server keeps each shard in its own SQLite file
 * (`<dataDir>/STORAGE_UNIT/<id>.sqlite`, the id derived from the shard's object name as on
 * Workers), so each shard has its own database and its own write lock. Where a key lives
 * depends on the unit's secret placement seed, which no answer shows: the keys are many
 * enough that every shard holds some, and on a self-hosted server the seed is read from
 * shard 0's file to check each shard holds exactly its keys.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, inject, it } from "vitest";
import { shardName, type ShardLayout } from "../../src/routing/layout";
import { shardOf } from "../../src/routing/placement";
import { ObjectNamespace } from "../../src/runtime/objects";
import { E2E_SHARDS, enc, ok, target, uniqueUnit } from "./client";

const { dataDir, kind } = inject("e2e");

/** 40 keys a shard on average: a shard left without one is a chance of 8 × (7/8)^320, about 2e-18. */
const KEYS = Array.from({ length: 40 * E2E_SHARDS }, (_, n) => `k${n}`);

/** The layout a shard holds in its SQLite `file` on a self-hosted server, seed included. */
function storedLayout(file: string): ShardLayout {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const row = db.prepare("SELECT shards, split_to, seed FROM unit").get() as { shards: number; split_to: number | null; seed: string | null };
    return { shards: Number(row.shards), splitTo: row.split_to, ...(row.seed === null ? {} : { seed: row.seed }) };
  } finally {
    db.close();
  }
}

describe(`a unit of ${E2E_SHARDS} shards`, () => {
  it("stores keys on every shard and reads as one unit", async () => {
    const server = target();
    const unit = uniqueUnit("shards");
    await ok(server.call("PUT", `/admin/createStorageUnit/${unit}`));
    const lines = KEYS.map((key) => JSON.stringify({ action: "add", scope: "raw", key, content: { key } }));
    expect(await ok(server.call("POST", `/transaction/batch/${unit}`, lines.join("\n")))).toEqual({ message: "OK", count: KEYS.length });
    const info = (await ok(server.call("GET", `/admin/getStorageUnit/${unit}`))).storageUnit;
    expect(info).toMatchObject({ shards: E2E_SHARDS, records: KEYS.length });
    const perShard: number[] = info.shardStats.map((stats: { records: number }) => stats.records);
    expect(perShard).toHaveLength(E2E_SHARDS);
    for (const records of perShard) expect(records).toBeGreaterThan(0);
    for (const key of KEYS.filter((_, n) => n % 16 === 0))
      expect((await ok(server.call("GET", `/access/fetch/${unit}/${enc(key)}`))).content).toEqual({ raw: { key } });
    const page = await ok(server.call("GET", `/access/fetchPage/${unit}?batchSize=1000`));
    expect(page.records).toHaveLength(KEYS.length);

    if (kind === "wrangler" || dataDir === null) return;
    // a self-hosted server: one SQLite file per shard, each holding the keys the unit's seed places there
    const names = new ObjectNamespace(undefined as never, "STORAGE_UNIT");
    const files = perShard.map((_, index) => join(dataDir, "STORAGE_UNIT", `${names.idFromName(shardName(unit, index))}.sqlite`));
    for (const file of files) expect(existsSync(file), file).toBe(true);
    expect(new Set(files.map((file) => statSync(file).ino)).size).toBe(E2E_SHARDS);
    const layout = storedLayout(files[0]!);
    expect(layout.seed).toMatch(/^[0-9a-f]{16}$/);
    const placed = perShard.map((_, index) => KEYS.filter((key) => shardOf(key, E2E_SHARDS, layout) === index).length);
    expect(perShard).toEqual(placed);
  });
});
