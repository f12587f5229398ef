/** A unit of 8 shards through HTTP: the records spread, and the unit reads as one. */
import { describe, expect, it } from "vitest";
import { call, createUnit, ndjson } from "./helpers";
import { compareBytes } from "../src/routing/layout";

describe("a unit of 8 shards", () => {
  it("spreads records over its shards and pages through them in byte order", async () => {
    const unit = await createUnit({ shards: 8 });
    const keys = Array.from({ length: 300 }, (_, i) => `k${i}`);
    const batch = await call(
      "POST",
      `/transaction/batch/${unit}`,
      ndjson(keys.map((key) => ({ action: "add", scope: "raw", key, content: { key } }))),
    );
    expect(batch.body).toEqual({ message: "OK", count: 300 });
    const info = await call("GET", `/admin/getStorageUnit/${unit}`);
    expect(info.body.storageUnit.records).toBe(300);
    expect(info.body.storageUnit.shards).toBe(8);
    expect(info.body.storageUnit.shardStats).toHaveLength(8);
    for (const stats of info.body.storageUnit.shardStats) expect(stats.records).toBeGreaterThan(10);
    const seen: string[] = [];
    let startId: string | undefined;
    do {
      const page = await call("GET", `/access/fetchPage/${unit}?batchSize=70${startId ? `&startId=${startId}` : ""}`);
      seen.push(...page.body.records.map((record: { key: string }) => record.key));
      startId = page.body.nextStartId;
    } while (startId);
    expect(seen).toEqual([...keys].sort(compareBytes));
    const many = await call("POST", `/access/fetchMultiple/${unit}`, { keys: ["k5", "k200", "nope", "k1"] });
    expect(many.body.records.map((record: { key: string }) => record.key)).toEqual(["k5", "k200", "k1"]);
    expect((await call("GET", `/access/fetch/${unit}/k42`)).body.content.raw).toEqual({ key: "k42" });
    expect((await call("DELETE", `/admin/deleteStorageUnit/${unit}`)).status).toBe(200);
    expect((await call("GET", `/access/fetch/${unit}/k42`)).status).toBe(404);
  });

  it("refuses a shard count that is not a power of two from 1 to 256", async () => {
    for (const shards of [0, 3, 512, 1.5]) {
      const answer = await call("PUT", `/admin/createStorageUnit/bad-${shards === 1.5 ? "half" : shards}`, { shards });
      expect(answer.status).toBe(400);
      expect(answer.body.detail).toContain("power of two");
    }
  });
});
