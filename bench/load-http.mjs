#!/usr/bin/env node
/**
 * `npm run bench:load [-- kind]`: 200 clients at once against one server (default: the
 * self-hosted Node server; `wrangler`, `bun`, `deno` too), as issue-sized traffic looks:
 *
 * 1. the ceiling: every client loops `GET /health` for BENCH_SECONDS (default 10): the
 *    most requests a second this server answers on this machine;
 * 2. for units of 1 and of 4 shards (BENCH_RECORDS records each, default 10,000, with a
 *    FieldMapping pipeline): every client loops a mix of `reprocess/key`, `reprocess/keys`
 *    (10 keys), `transaction/add`, `access/fetch` and `reprocess/status`, for as long.
 *
 * It prints, per phase, requests a second, p50 / p99 / max latency, the share of the
 * `/health` ceiling, and any answer that was not 200 (there should be none).
 * BENCH_URL=http://127.0.0.1:PORT loads a server already running (started with ADMIN_TOKEN
 * bench-load-token: under `node --cpu-prof`, say) instead of starting one.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isServerKind, launchServer } from "../test/e2e/servers.ts";
import { apiCaller } from "./http-api.mjs";

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 200);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RECORDS = Number(process.env.BENCH_RECORDS ?? 10_000);
const TOKEN = "bench-load-token";
const api = apiCaller(TOKEN);
const kind = process.argv[2] ?? "node";
if (!isServerKind(kind)) throw new Error(`unknown server kind '${kind}'; choose from wrangler, node, bun, deno`);

const key = (i) => `doc-${String(i).padStart(8, "0")}`;
const pick = (n) => Math.floor(Math.random() * n);

/** The mix one client sends, one request at a time: each entry a request for `unit`. */
const MIX = [
  (unit) => ["POST", `/reprocess/key/${unit}/${key(pick(RECORDS))}/raw`],
  (unit) => ["POST", `/reprocess/keys/${unit}/raw`, { keys: Array.from({ length: 10 }, () => key(pick(RECORDS))) }],
  (unit) => ["PUT", `/transaction/add/${unit}/raw`, { key: key(pick(RECORDS)), content: { title: "changed", n: pick(1000) } }],
  (unit) => ["GET", `/access/fetch/${unit}/${key(pick(RECORDS))}`],
  (unit) => ["GET", `/reprocess/status/${unit}`],
];

/** CLIENTS loops of `next()` for SECONDS; the latencies and the answers that were not 200. */
async function load(url, next) {
  const latencies = [];
  const refused = new Map();
  const until = performance.now() + SECONDS * 1000;
  const client = async () => {
    while (performance.now() < until) {
      const [method, path, body] = next();
      const started = performance.now();
      const response = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { "content-type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      await response.arrayBuffer();
      latencies.push(performance.now() - started);
      if (response.status !== 200) refused.set(response.status, (refused.get(response.status) ?? 0) + 1);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, client));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { rate: latencies.length / seconds, p50: at(0.5), p99: at(0.99), max: latencies[latencies.length - 1], refused };
}

async function unitOf(url, shards) {
  const unit = `load-${shards}`;
  await api(url, "PUT", `/admin/createStorageUnit/${unit}`, { shards, contentProcessing: true, reprocessingQueue: true });
  await api(url, "POST", `/admin/setContentProcessingModules/${unit}`, {
    modules: { raw: [{ module: "FieldMapping", settings: { rename: { title: "headline" } } }] },
  });
  for (let start = 0; start < RECORDS; start += 5000) {
    const lines = [];
    for (let i = start; i < Math.min(RECORDS, start + 5000); i++)
      lines.push(JSON.stringify({ action: "add", scope: "raw", key: key(i), content: { title: `Document ${i}`, n: i } }));
    await api(url, "POST", `/transaction/batch/${unit}`, lines.join("\n"));
  }
  // the ingestion's own queue drains first: the load then meets a unit at rest
  for (;;) {
    const status = await api(url, "GET", `/reprocess/status/${unit}`);
    if (status.pending + status.assigned === 0) return unit;
    await new Promise((done) => setTimeout(done, 200));
  }
}

const line = (name, figures, ceiling) =>
  `${name.padEnd(28)} ${Math.round(figures.rate).toLocaleString("en-US").padStart(7)} req/s` +
  `${ceiling ? ` (${(figures.rate / ceiling).toFixed(2)} of /health)` : ""}` +
  `  p50 ${figures.p50.toFixed(0)} ms  p99 ${figures.p99.toFixed(0)} ms  max ${figures.max.toFixed(0)} ms` +
  `${figures.refused.size > 0 ? `  not 200: ${JSON.stringify(Object.fromEntries(figures.refused))}` : ""}`;

const dataDir = mkdtempSync(join(tmpdir(), `restage-bench-load-${kind}-`));
const server = process.env.BENCH_URL ? { url: process.env.BENCH_URL, stop: async () => {} } : await launchServer(kind, { dataDir, token: TOKEN });
try {
  const units = { 1: await unitOf(server.url, 1), 4: await unitOf(server.url, 4) };
  const health = await load(server.url, () => ["GET", "/health"]);
  console.log(`${kind} server, ${CLIENTS} clients, ${SECONDS} s a phase, units of ${RECORDS.toLocaleString("en-US")} records:`);
  console.log(line("GET /health (the ceiling)", health));
  for (const shards of [1, 4]) {
    const unit = units[shards];
    const figures = await load(server.url, () => MIX[pick(MIX.length)](unit));
    console.log(line(`mix on ${shards} shard${shards > 1 ? "s" : ""}`, figures, health.rate));
  }
} finally {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
