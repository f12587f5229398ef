/**
 * The split benchmark: one unit of one shard filled with BENCH_RECORDS records (default
 * 1,000,000) through `transaction/batch`, then `splitStorageUnit` to 8 shards, timed from
 * the call to the status that shows no split. Meanwhile a reader fetches keys in a loop
 * (one that moves early, one that moves late, one that stays): the longest answer it waited
 * for is the longest pause the split caused to reads. It measures and prints; it asserts
 * only that every record is still there, on its new shard.
 */
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { call } from "./api";

const LINES_PER_BATCH = 10_000;
const benchEnv = env as unknown as { BENCH_RECORDS: string };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const key = (i: number) => `doc-${String(i).padStart(8, "0")}`;

it("splits a unit of one shard into 8 while a reader polls it", async () => {
  const records = Number(benchEnv.BENCH_RECORDS);
  const unit = "bench-split";
  await call("PUT", `/admin/createStorageUnit/${unit}`, { contentProcessing: false, reprocessingQueue: true });
  for (let start = 0; start < records; start += LINES_PER_BATCH) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(records, start + LINES_PER_BATCH); i++)
      lines.push(JSON.stringify({ action: "add", scope: "raw", key: key(i), content: { title: `Document ${i}`, n: i } }));
    expect((await call("POST", `/transaction/batch/${unit}`, lines.join("\n"))).body.count).toBe(lines.length);
  }

  const watched = [key(1), key(Math.floor(records / 2)), key(records - 1)];
  let reading = true;
  let reads = 0;
  let longest = 0;
  const reader = (async () => {
    for (let i = 0; reading; i++) {
      const started = performance.now();
      const answer = await call("GET", `/access/fetch/${unit}/${watched[i % watched.length]}`);
      longest = Math.max(longest, performance.now() - started);
      reads++;
      expect(answer.status).toBe(200);
      // the objects share this isolate here: a reader that never lets a timer run would stall them all
      await sleep(1);
    }
  })();

  const splitStart = Date.now();
  expect((await call("PUT", `/admin/splitStorageUnit/${unit}`, { shards: 8 })).body).toEqual({ message: "OK", splitting: true });
  const answeredMs = Date.now() - splitStart;
  let status: any;
  for (;;) {
    status = (await call("GET", `/reprocess/status/${unit}`)).body;
    if (status.splitting === null) break;
    await sleep(200);
  }
  const splitMs = Date.now() - splitStart;
  reading = false;
  await reader;

  const info = (await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit;
  expect(info).toMatchObject({ shards: 8, records });
  console.log(
    [
      `split records:  ${records.toLocaleString("en-US")} on 1 shard → 8 shards`,
      `split answer:   ${answeredMs} ms`,
      `split:          ${(splitMs / 1000).toFixed(2)} s until status showed no split (${Math.round(records / (splitMs / 1000)).toLocaleString("en-US")} records/s)`,
      `reads meanwhile: ${reads.toLocaleString("en-US")}, the longest ${longest.toFixed(0)} ms`,
      `shards now:     ${info.shardStats.map((stats: { records: number }) => stats.records).join(" / ")} records`,
    ].join("\n"),
  );
});
