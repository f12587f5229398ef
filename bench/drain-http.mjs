#!/usr/bin/env node
/**
 * `npm run bench:drain [-- DIR...]`: the self-hosted Node server's drain, timed from outside
 * as a client sees it. For each checkout DIR (default: this one) it bundles the server
 * (scripts/build-selfhost.mjs), starts it on a fresh data folder, creates a unit with a
 * FieldMapping pipeline, ingests BENCH_RECORDS records (default 100,000) through
 * `transaction/batch` in requests of 10,000 lines, then times `reprocess/all` until
 * `reprocess/status` shows nothing pending or assigned. The unit's batchSize is
 * BENCH_BATCH_SIZE (default 1000, as `npm run bench`).
 *
 * With several DIRs (another commit checked out in a git worktree) the checkouts alternate
 * round by round, so a busy machine slows them alike; BENCH_ROUNDS rounds (default 3).
 * BENCH_CPU_PROF=folder starts each server with `node --cpu-prof` writing there.
 * BENCH_JSON=1 ends with one line of JSON (what bench/compare.mjs reads).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../test/e2e/servers.ts";
import { apiCaller } from "./http-api.mjs";
import { drainBodies, measureDrain } from "./drain-measure.mjs";

const RECORDS = Number(process.env.BENCH_RECORDS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BATCH_SIZE = Number(process.env.BENCH_BATCH_SIZE ?? 1000);
const TOKEN = "bench-drain-token";
const api = apiCaller(TOKEN);
const HERE = fileURLToPath(new URL("..", import.meta.url));
const roots = process.argv.length > 2 ? process.argv.slice(2).map((dir) => resolve(dir)) : [HERE];

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/** Bundles the Node server of checkout `root` once; returns the bundle's path. */
function bundle(root) {
  const built = spawnSync(process.execPath, ["scripts/build-selfhost.mjs", "node"], { cwd: root, stdio: "inherit" });
  if (built.status !== 0) throw new Error(`build-selfhost failed in ${root}`);
  return join(root, "dist/selfhost/node.mjs");
}

async function launch(root, file) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "restage-bench-drain-"));
  const flags = ["--disable-warning=ExperimentalWarning"];
  if (process.env.BENCH_CPU_PROF) flags.push("--cpu-prof", `--cpu-prof-dir=${resolve(process.env.BENCH_CPU_PROF)}`);
  const env = { ...process.env, PORT: String(port), HOST: "127.0.0.1", ADMIN_TOKEN: TOKEN, RESTAGE_DATA_DIR: dataDir };
  const child = spawn(process.execPath, [...flags, file], { cwd: root, env, stdio: ["ignore", "ignore", "inherit"] });
  const exited = new Promise((done) => child.once("exit", done));
  const url = `http://127.0.0.1:${port}`;
  for (let tries = 0; ; tries++) {
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      if (tries > 300) throw new Error(`server of ${root} did not start`);
      await sleep(100);
    }
  }
  return {
    url,
    async stop() {
      child.kill("SIGTERM");
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const bodies = drainBodies(RECORDS);
const files = roots.map(bundle);
const results = roots.map(() => ({ ingest: [], drain: [] }));
for (let round = 1; round <= ROUNDS; round++) {
  for (const [index, root] of roots.entries()) {
    const server = await launch(root, files[index]);
    try {
      const figures = await measureDrain(api, server.url, bodies, RECORDS, BATCH_SIZE);
      results[index].ingest.push(figures.ingest);
      results[index].drain.push(figures.drain);
      console.log(
        `round ${round} ${root}: ingest ${Math.round(figures.ingest).toLocaleString("en-US")} records/s, drain ${Math.round(figures.drain).toLocaleString("en-US")} items/s`,
      );
    } finally {
      await server.stop();
    }
  }
}

const range = (values) => `${Math.round(Math.min(...values)).toLocaleString("en-US")}–${Math.round(Math.max(...values)).toLocaleString("en-US")}`;
console.log(`\n${RECORDS.toLocaleString("en-US")} records, FieldMapping, batchSize ${BATCH_SIZE}, ${ROUNDS} rounds, Node server:`);
for (const [index, root] of roots.entries()) {
  console.log(`${root}: ingest ${range(results[index].ingest)} records/s, drain ${range(results[index].drain)} items/s`);
}
if (process.env.BENCH_JSON) console.log(JSON.stringify(results));
