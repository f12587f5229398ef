/**
 * The split benchmark: one unit of one shard filled with BENCH_RECORDS records (default
 * 1,000,000) through `transaction/batch`, then `splitStorageUnit` to 8 shards, timed from
 * the call to the status that shows no split. Meanwhile a reader fetches keys in a loop
 * (one that moves early, one that moves late, one that stays): the longest answer it waited
 * for is the longest pause the split caused to reads. And 8 writers write throughout, each
 * over its own keys: updates of existing records (spread over the key space, so some have
 * moved and some not) and new records. It prints the figures, and asserts that every
 * record is still there and every acknowledged write is found afterwards, once.
 */
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { call } from "./api";

const LINES_PER_BATCH = 10_000;
const benchEnv = env as unknown as { BENCH_RECORDS: string };

const WRITERS = 8;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const key = (i: number) => `doc-${String(i).padStart(8, "0")}`;

/** One writer's acknowledged writes, in order: the content each key was last given. */
interface Writer {
  last: Map<string, unknown>;
  writes: number;
  longest: number;
}

/** Writer `w` until `going()` is false: updates of existing records i ≡ w (mod WRITERS), and new records `new-w-n`, one at a time. */
async function write(unit: string, w: number, records: number, going: () => boolean): Promise<Writer> {
  const writer: Writer = { last: new Map(), writes: 0, longest: 0 };
  for (let n = 0; going(); n++) {
    const target = n % 2 === 0 ? key(((n * 7919 + w) % Math.floor(records / WRITERS)) * WRITERS + w) : `new-${w}-${n}`;
    const content = { writer: w, n };
    const started = performance.now();
    const answer = await call("PUT", `/transaction/add/${unit}/raw`, { key: target, content });
    writer.longest = Math.max(writer.longest, performance.now() - started);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    writer.last.set(target, content);
    writer.writes++;
    await sleep(1);
  }
  return writer;
}

it("splits a unit of one shard into 8 while a reader polls it and 8 writers write", async () => {
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

  let splitting = true;
  const writers = Array.from({ length: WRITERS }, (_, w) => write(unit, w, records, () => splitting));

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
  splitting = false;
  reading = false;
  await reader;
  const written = await Promise.all(writers);

  // every acknowledged write, found on its key's owner with the content it was last given
  const expected = new Map(written.flatMap((writer) => [...writer.last]));
  const keys = [...expected.keys()];
  for (let start = 0; start < keys.length; start += 500) {
    const chunk = keys.slice(start, start + 500);
    const found = (await call("POST", `/access/fetchMultiple/${unit}/raw`, { keys: chunk })).body.records as Array<{
      key: string;
      content: { raw: unknown };
    }>;
    expect(found.map((record) => record.key)).toEqual(chunk);
    for (const record of found) expect(record.content.raw, record.key).toEqual(expected.get(record.key));
  }
  const added = keys.filter((written) => written.startsWith("new-")).length;
  const info = (await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit;
  // once: the shards' counts add up to the records written, none held twice
  expect(info).toMatchObject({ shards: 8, records: records + added });
  const writes = written.reduce((total, writer) => total + writer.writes, 0);
  console.log(
    [
      `split records:  ${records.toLocaleString("en-US")} on 1 shard → 8 shards`,
      `split answer:   ${answeredMs} ms`,
      `split:          ${(splitMs / 1000).toFixed(2)} s until status showed no split (${Math.round(records / (splitMs / 1000)).toLocaleString("en-US")} records/s)`,
      `reads meanwhile: ${reads.toLocaleString("en-US")}, the longest ${longest.toFixed(0)} ms`,
      `writes meanwhile: ${writes.toLocaleString("en-US")} by ${WRITERS} writers (${added.toLocaleString("en-US")} new records), every one found afterwards; the longest waited ${Math.max(...written.map((writer) => writer.longest)).toFixed(0)} ms`,
      `shards now:     ${info.shardStats.map((stats: { records: number }) => stats.records).join(" / ")} records`,
    ].join("\n"),
  );
});
