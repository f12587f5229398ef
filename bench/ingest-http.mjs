#!/usr/bin/env node
/**
 * `npm run bench:ingest [-- kinds...]`: ingest through `transaction/batch` over HTTP, the
 * way a client loads a unit, against real servers started here (as the end-to-end suite
 * starts them, test/e2e/servers.ts): `wrangler dev` and the self-hosted servers.
 *
 * Each round starts every kind in turn on a fresh data folder and sends BENCH_RECORDS
 * records (default 200,000) in requests of 10,000 lines, one request at a time; the kinds
 * alternate, so a busy machine slows them alike. Prints records/s and µs per line per
 * run, and the range over BENCH_ROUNDS rounds (default 3).
 *
 * Kinds: wrangler, wrangler-untraced (wrangler dev with X_LOCAL_OBSERVABILITY=false: no
 * local trace collector), node, bun, deno (default: wrangler wrangler-untraced node).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isServerKind, launchServer } from "../test/e2e/servers.ts";
import { apiCaller } from "./http-api.mjs";

const RECORDS = Number(process.env.BENCH_RECORDS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LINES_PER_REQUEST = 10_000;
const TOKEN = "bench-ingest-token";
const api = apiCaller(TOKEN);

/** Kinds beyond the servers' own: the server and the variables it starts with. */
const VARIANTS = { "wrangler-untraced": { server: "wrangler", env: { X_LOCAL_OBSERVABILITY: "false" } } };
const kinds = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["wrangler", "wrangler-untraced", "node"];
for (const kind of kinds) {
  if (!isServerKind(kind) && !(kind in VARIANTS))
    throw new Error(`unknown server kind '${kind}'; choose from wrangler, wrangler-untraced, node, bun, deno`);
}

/** Starts a server of `kind`; the server inherits this process's environment, so a variant's variables are set around the start. */
async function launch(kind, dataDir) {
  const variant = VARIANTS[kind] ?? { server: kind, env: {} };
  const saved = Object.fromEntries(Object.keys(variant.env).map((name) => [name, process.env[name]]));
  Object.assign(process.env, variant.env);
  try {
    return await launchServer(variant.server, { dataDir, token: TOKEN });
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

/** The request bodies, built once: the same records as `npm run bench` (bench/reprocess.bench.test.ts). */
const bodies = [];
for (let start = 0; start < RECORDS; start += LINES_PER_REQUEST) {
  const lines = [];
  for (let i = start; i < Math.min(RECORDS, start + LINES_PER_REQUEST); i++) {
    lines.push(JSON.stringify({ action: "add", scope: "raw", key: `doc-${String(i).padStart(8, "0")}`, content: { title: `Document ${i}`, n: i } }));
  }
  bodies.push(lines.join("\n"));
}

/** One timed ingest into a fresh unit; returns the milliseconds of the batch requests alone. */
async function ingest(url, unit) {
  await api(url, "PUT", `/admin/createStorageUnit/${unit}`, { contentProcessing: false, reprocessingQueue: true });
  // a first small request warms the route and the object, as a client's first request would
  await api(url, "POST", `/transaction/batch/${unit}`, JSON.stringify({ action: "add", scope: "warm", key: "warm", content: {} }));
  const start = performance.now();
  for (const body of bodies) {
    const answer = await api(url, "POST", `/transaction/batch/${unit}`, body);
    if (answer.message !== "OK") throw new Error(`batch: ${JSON.stringify(answer).slice(0, 500)}`);
  }
  return performance.now() - start;
}

const results = Object.fromEntries(kinds.map((kind) => [kind, []]));
for (let round = 1; round <= ROUNDS; round++) {
  for (const kind of kinds) {
    const dataDir = mkdtempSync(join(tmpdir(), `restage-bench-ingest-${kind}-`));
    const server = await launch(kind, dataDir);
    try {
      const ms = await ingest(server.url, `ingest-${round}`);
      results[kind].push(ms);
      console.log(
        `round ${round} ${kind.padEnd(17)} ${Math.round(RECORDS / (ms / 1000))
          .toLocaleString("en-US")
          .padStart(8)} records/s  ${((ms * 1000) / RECORDS).toFixed(1).padStart(6)} µs/line`,
      );
    } finally {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
}

console.log(`\n${RECORDS.toLocaleString("en-US")} records, ${LINES_PER_REQUEST.toLocaleString("en-US")} lines a request, ${ROUNDS} rounds:`);
for (const kind of kinds) {
  const rates = results[kind].map((ms) => Math.round(RECORDS / (ms / 1000)));
  const perLine = results[kind].map((ms) => (ms * 1000) / RECORDS);
  console.log(
    `${kind.padEnd(17)} ${Math.min(...rates).toLocaleString("en-US")}–${Math.max(...rates).toLocaleString("en-US")} records/s (${Math.min(...perLine).toFixed(1)}–${Math.max(...perLine).toFixed(1)} µs/line)`,
  );
}
