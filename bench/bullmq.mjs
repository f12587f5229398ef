#!/usr/bin/env node
/**
 * `npm run bench:bullmq [-- kinds...]`: our servers against BullMQ on a local Redis, the
 * same work in the same sitting. BENCH_RECORDS records (default 100,000) of the drain
 * workload (bench/drain-measure.mjs):
 *
 * - ours (kinds: node, wrangler, bun, deno; default node): ingested through
 *   `transaction/batch` in requests of 10,000 lines, then drained by `reprocess/all`
 *   through the FieldMapping pipeline (batchSize BENCH_BATCH_SIZE, default 1000);
 * - BullMQ: `addBulk` of the same documents in chunks of 10,000 jobs, then a Worker
 *   (concurrency BENCH_BULLMQ_CONCURRENCY, default 100; completed jobs removed) that maps
 *   each job's data as the FieldMapping does.
 *
 * The kinds and BullMQ alternate round by round (BENCH_ROUNDS, default 3), so a busy
 * machine slows them alike; it prints each rate, the ranges, and our median / BullMQ's.
 * Needs `redis-server` on the PATH (Debian: `apt-get install -y redis-server`).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { freePort, isServerKind, launchServer } from "../test/e2e/servers.ts";
import { documentOf, drainBodies, measureDrain } from "./drain-measure.mjs";
import { apiCaller } from "./http-api.mjs";

const RECORDS = Number(process.env.BENCH_RECORDS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BATCH_SIZE = Number(process.env.BENCH_BATCH_SIZE ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_BULLMQ_CONCURRENCY ?? 100);
const JOBS_PER_CALL = 10_000;
const TOKEN = "bench-bullmq-token";
const api = apiCaller(TOKEN);
const kinds = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["node"];
for (const kind of kinds) if (!isServerKind(kind)) throw new Error(`unknown server kind '${kind}'; choose from wrangler, node, bun, deno`);
if (spawnSync("redis-server", ["--version"]).status !== 0) throw new Error("redis-server is not installed: apt-get install -y redis-server");

/** A Redis of its own, in memory only (no snapshots, no append-only file). */
async function startRedis() {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const connect = () => new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: null });
  for (let tries = 0; ; tries++) {
    const probe = spawnSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8" });
    if (probe.stdout?.trim() === "PONG") break;
    if (tries > 100) throw new Error("redis-server did not start");
    await new Promise((done) => setTimeout(done, 100));
  }
  return { connect, stop: () => child.kill("SIGTERM") };
}

/** What the FieldMapping of the pipeline does to one document. */
function mapped({ headline, internal: _internal, ...rest }) {
  return { ...rest, title: headline, authorName: rest.author?.name };
}

/** One ingest (addBulk) and drain (a Worker) of a fresh queue; returns both rates a second. */
async function measureBullmq(connect, round) {
  const name = `drain-${round}`;
  const queue = new Queue(name, { connection: connect() });
  const ingestStart = performance.now();
  for (let start = 0; start < RECORDS; start += JOBS_PER_CALL) {
    const jobs = [];
    for (let i = start; i < Math.min(RECORDS, start + JOBS_PER_CALL); i++)
      jobs.push({ name: "raw", data: documentOf(i), opts: { removeOnComplete: true } });
    await queue.addBulk(jobs);
  }
  const ingestMs = performance.now() - ingestStart;
  let done = 0;
  let finished;
  const all = new Promise((resolve) => {
    finished = resolve;
  });
  const drainStart = performance.now();
  const worker = new Worker(name, async (job) => mapped(job.data), { connection: connect(), concurrency: CONCURRENCY });
  worker.on("completed", () => {
    if (++done === RECORDS) finished();
  });
  worker.on("failed", (job, error) => {
    throw new Error(`BullMQ job ${job?.id} failed: ${error}`);
  });
  await all;
  const drainMs = performance.now() - drainStart;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return { ingest: RECORDS / (ingestMs / 1000), drain: RECORDS / (drainMs / 1000) };
}

const bodies = drainBodies(RECORDS);
const redis = await startRedis();
const sides = ["bullmq", ...kinds];
const results = Object.fromEntries(sides.map((side) => [side, { ingest: [], drain: [] }]));
const rate = (value) => Math.round(value).toLocaleString("en-US");
try {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const side of sides) {
      let figures;
      if (side === "bullmq") figures = await measureBullmq(redis.connect, round);
      else {
        const dataDir = mkdtempSync(join(tmpdir(), `restage-bench-bullmq-${side}-`));
        const server = await launchServer(side, { dataDir, token: TOKEN });
        try {
          figures = await measureDrain(api, server.url, bodies, RECORDS, BATCH_SIZE);
        } finally {
          await server.stop();
          rmSync(dataDir, { recursive: true, force: true });
        }
      }
      results[side].ingest.push(figures.ingest);
      results[side].drain.push(figures.drain);
      console.log(`round ${round} ${side}: ingest ${rate(figures.ingest)} records/s, drain ${rate(figures.drain)} items/s`);
    }
  }
} finally {
  redis.stop();
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const range = (values) => `${rate(Math.min(...values))}–${rate(Math.max(...values))}`;
console.log(`\n${RECORDS.toLocaleString("en-US")} records, ${ROUNDS} rounds; BullMQ concurrency ${CONCURRENCY}, ours batchSize ${BATCH_SIZE}:`);
for (const side of sides)
  console.log(`${side.padEnd(8)} ingest ${range(results[side].ingest)} records/s, drain ${range(results[side].drain)} items/s`);
for (const kind of kinds) {
  const times = (figure) => (median(results[kind][figure]) / median(results.bullmq[figure])).toFixed(2);
  console.log(`${kind} / BullMQ (medians): ingest ${times("ingest")}×, drain ${times("drain")}×`);
}
process.exit(0);
