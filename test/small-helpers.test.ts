/** The small shared helpers: chunking by count and bytes, a bounded pool of calls. */
import { describe, expect, it } from "vitest";
import { chunksWithin } from "../src/chunks";
import { forEachConcurrently } from "../src/concurrency";
import { shardMaxBytes, storageFullError } from "../src/unit/capacity";

describe("chunksWithin", () => {
  const items = (...bytes: number[]) => bytes.map((size, index) => ({ index, bytes: size }));
  const indexes = (chunks: Array<Array<{ index: number }>>) => chunks.map((chunk) => chunk.map((item) => item.index));

  it("keeps the order and closes a chunk at the count or the byte limit", () => {
    expect(indexes(chunksWithin(items(1, 1, 1, 1, 1), { maxItems: 2, maxBytes: 100 }))).toEqual([[0, 1], [2, 3], [4]]);
    expect(indexes(chunksWithin(items(4, 4, 2, 5), { maxItems: 10, maxBytes: 10 }))).toEqual([[0, 1, 2], [3]]);
  });

  it("sends an item larger than the byte limit alone, and nothing for no items", () => {
    expect(indexes(chunksWithin(items(3, 50, 3), { maxItems: 10, maxBytes: 10 }))).toEqual([[0], [1], [2]]);
    expect(chunksWithin([], { maxItems: 10, maxBytes: 10 })).toEqual([]);
  });
});

describe("forEachConcurrently", () => {
  it("calls fn once per item with at most `limit` calls in flight", async () => {
    let running = 0;
    let most = 0;
    const seen: number[] = [];
    await forEachConcurrently([...Array(20).keys()], 3, async (item) => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, item % 3));
      seen.push(item);
      running--;
    });
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
    expect(most).toBe(3);
  });

  it("rejects with the error a call throws", async () => {
    await expect(
      forEachConcurrently([1, 2, 3], 2, async (item) => {
        if (item === 2) throw new Error("two");
      }),
    ).rejects.toThrow("two");
  });
});

describe("capacity", () => {
  it("reads RESTAGE_SHARD_MAX_BYTES as a whole number of bytes, unset meaning no cap, and says how to fix a bad one", () => {
    expect(shardMaxBytes({})).toBeUndefined();
    expect(shardMaxBytes({ RESTAGE_SHARD_MAX_BYTES: "" })).toBeUndefined();
    expect(shardMaxBytes({ RESTAGE_SHARD_MAX_BYTES: "1048576" })).toBe(1048576);
    for (const bad of ["1e", "-1", "0", "1.5", "10GB"])
      expect(() => shardMaxBytes({ RESTAGE_SHARD_MAX_BYTES: bad })).toThrow(/RESTAGE_SHARD_MAX_BYTES must be a whole number of bytes/);
  });

  it("answers the platform's full-storage error, as thrown or as its text across RPC, with 507 STORAGE_FULL", () => {
    for (const error of [new Error("database or disk is full: SQLITE_FULL"), new Error("SQLITE_FULL"), "Error: database or disk is full"]) {
      expect(storageFullError(error)).toMatchObject({
        code: "STORAGE_FULL",
        status: 507,
        detail: expect.stringMatching(/^the storage unit's shard is full.*Delete records/),
      });
    }
    expect(storageFullError(new Error("no such table: records"))).toBeUndefined();
  });
});
