/**
 * The reprocessing benchmark: for a unit of 1 shard and one of 8, each filled with
 * BENCH_RECORDS records (default 1,000,000) through `transaction/batch`, a Noop pipeline
 * with batchSize 1000, then `reprocess/all` and the drain of the queue it fills, timed from
 * outside the unit. Same records, same machine, one run: it prints both side by side with
 * the ratio, and asserts only that every item was processed.
 */
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { api } from "./api";

const LINES_PER_BATCH = 10_000;
const SHARD_COUNTS = [1, 8];
const benchEnv = env as unknown as { BENCH_RECORDS: string; BENCH_BATCH_SIZE: string };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const rate = (count: number, ms: number) => Math.round(count / (ms / 1000));
const format = (value: number) => value.toLocaleString("en-US");

interface Figures {
  shards: number;
  storeMs: number;
  allMs: number;
  drainMs: number;
  polls: number;
  settings: { batchSize: number; workers: number; concurrency: number };
}

async function run(unit: string, shards: number, records: number, batchSize: number): Promise<Figures> {
  await api("PUT", `/admin/createStorageUnit/${unit}`, { contentProcessing: false, reprocessingQueue: true, shards });
  await api("POST", `/admin/setContentProcessingModules/${unit}`, { modules: { raw: [{ module: "Noop", settings: {} }] } });
  const { settings } = await api("PUT", `/admin/setReprocessingSettings/${unit}`, { batchSize });

  const storeStart = Date.now();
  for (let start = 0; start < records; start += LINES_PER_BATCH) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(records, start + LINES_PER_BATCH); i++) {
      lines.push(
        JSON.stringify({ action: "add", scope: "raw", key: `doc-${String(i).padStart(8, "0")}`, content: { title: `Document ${i}`, n: i } }),
      );
    }
    expect((await api("POST", `/transaction/batch/${unit}`, lines.join("\n"))).count).toBe(lines.length);
  }
  const storeMs = Date.now() - storeStart;

  const allStart = Date.now();
  const all = await api("POST", `/reprocess/all/${unit}/raw`);
  const allMs = Date.now() - allStart;
  expect(all.queued).toBe(records);

  // poll rarely while much is left (a status read counts every shard's queue), closely near the end
  let status: any;
  let polls = 0;
  for (;;) {
    status = await api("GET", `/reprocess/status/${unit}`);
    polls++;
    const left = status.pending + status.assigned;
    if (!status.filling && left === 0) break;
    await sleep(!status.filling && left < records / 20 ? 20 : 500);
  }
  const drainMs = Date.now() - allStart;
  expect(status).toMatchObject({ processed: records, failed: 0 });
  return { shards, storeMs, allMs, drainMs, polls, settings };
}

it("drains a unit of 1 shard and one of 8 through a Noop pipeline", async () => {
  const records = Number(benchEnv.BENCH_RECORDS);
  const batchSize = Number(benchEnv.BENCH_BATCH_SIZE);
  const figures: Figures[] = [];
  for (const shards of SHARD_COUNTS) figures.push(await run(`bench-${shards}`, shards, records, batchSize));

  const [one, many] = figures as [Figures, Figures];
  const row = (label: string, value: (f: Figures) => string) => `${label.padEnd(24)}${figures.map((f) => value(f).padStart(22)).join("")}`;
  console.log(
    [
      `records: ${format(records)} per unit; settings per shard: batchSize ${one.settings.batchSize}, workers ${one.settings.workers}, concurrency ${one.settings.concurrency}, pipeline Noop`,
      row("", (f) => `${f.shards} shard${f.shards === 1 ? "" : "s"}`),
      row("ingest (records/s)", (f) => `${format(rate(records, f.storeMs))} (${(f.storeMs / 1000).toFixed(2)} s)`),
      row("reprocess/all answer", (f) => `${format(f.allMs)} ms`),
      row("drain (items/s)", (f) => `${format(rate(records, f.drainMs))} (${(f.drainMs / 1000).toFixed(2)} s)`),
      row("status reads", (f) => String(f.polls)),
      `${many.shards} shards vs 1: ingest ${(one.storeMs / many.storeMs).toFixed(2)}×, drain ${(one.drainMs / many.drainMs).toFixed(2)}×`,
    ].join("\n"),
  );
});
