/**
 * The split benchmark: one unit of one shard filled with BENCH_RECORDS records (default
 * 1,000,000) through `transaction/batch`, then `splitStorageUnit` to 8 shards, timed from
 * the call to the status that shows no split. Meanwhile a reader fetches keys in a loop
 * (one that moves early, one that moves late, one that stays): the longest answer it waited
 * for is the longest pause the split caused to reads. It measures and prints; it asserts
 * only that every record is still there, on its new shard.
 */
import { env, exports } from "cloudflare:workers";
import { expect, it } from "vitest";

const TOKEN = "bench-admin-token";
const LINES_PER_BATCH = 10_000;
const benchEnv = env as unknown as { BENCH_RECORDS: string };

async function api(method: string, path: string, body?: string | object): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
  if (body !== undefined) headers["content-type"] = typeof body === "string" ? "application/x-ndjson" : "application/json";
  const response = await exports.default.fetch(
    new Request(`https://restage.bench${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    }),
  );
  return { status: response.status, body: await response.json() };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const key = (i: number) => `doc-${String(i).padStart(8, "0")}`;

it("splits a unit of one shard into 8 while a reader polls it", async () => {
  const records = Number(benchEnv.BENCH_RECORDS);
  const unit = "bench-split";
  await api("PUT", `/admin/createStorageUnit/${unit}`, { contentProcessing: false, reprocessingQueue: true });
  for (let start = 0; start < records; start += LINES_PER_BATCH) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(records, start + LINES_PER_BATCH); i++)
      lines.push(JSON.stringify({ action: "add", scope: "raw", key: key(i), content: { title: `Document ${i}`, n: i } }));
    expect((await api("POST", `/transaction/batch/${unit}`, lines.join("\n"))).body.count).toBe(lines.length);
  }

  const watched = [key(1), key(Math.floor(records / 2)), key(records - 1)];
  let reading = true;
  let reads = 0;
  let longest = 0;
  const reader = (async () => {
    for (let i = 0; reading; i++) {
      const started = performance.now();
      const answer = await api("GET", `/access/fetch/${unit}/${watched[i % watched.length]}`);
      longest = Math.max(longest, performance.now() - started);
      reads++;
      expect(answer.status).toBe(200);
      // the objects share this isolate here: a reader that never lets a timer run would stall them all
      await sleep(1);
    }
  })();

  const splitStart = Date.now();
  expect((await api("PUT", `/admin/splitStorageUnit/${unit}`, { shards: 8 })).body).toEqual({ message: "OK", splitting: true });
  const answeredMs = Date.now() - splitStart;
  let status: any;
  for (;;) {
    status = (await api("GET", `/reprocess/status/${unit}`)).body;
    if (status.splitting === null) break;
    await sleep(200);
  }
  const splitMs = Date.now() - splitStart;
  reading = false;
  await reader;

  const info = (await api("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit;
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
