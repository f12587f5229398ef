#!/usr/bin/env node
/**
 * `node bench/restart-recovery.mjs`: how long a self-hosted Node server takes, after a
 * SIGKILL in the middle of a drain, from its restart until the run is done (API.md, "Queue
 * semantics": the items of the dead process's runs are due again when the unit's next
 * instance starts, not after their lease).
 *
 * A unit of one shard holds RECOVERY_ITEMS records (default 3,000); a `reprocess/all` drains them
 * through a module that takes 10 ms an item (Fault's stall: each batch is assigned for a
 * while) and FieldMapping, throttled to RECOVERY_RATE items/s (default 300), so that the
 * kill lands mid-drain with items assigned under the default lease of 60 s. Prints the seconds from the restarted
 * server's first answer to the run's `done`, and what the run counted.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchServer } from "../test/e2e/servers.ts";

const ITEMS = Number(process.env.RECOVERY_ITEMS ?? 3_000);
const RATE = Number(process.env.RECOVERY_RATE ?? 300);
const TOKEN = "bench-restart-token";
const UNIT = "recovery";
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function call(url, method, path, body) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

const keys = Array.from({ length: ITEMS }, (_, n) => `k${String(n).padStart(6, "0")}`);
const dataDir = mkdtempSync(join(tmpdir(), "restage-restart-recovery-"));
let server = await launchServer("node", { dataDir, token: TOKEN });
try {
  await call(server.url, "PUT", `/admin/createStorageUnit/${UNIT}`, { contentProcessing: false, reprocessingQueue: true, shards: 1 });
  await call(server.url, "PUT", `/admin/setReprocessingSettings/${UNIT}`, { maxItemsPerSecond: RATE });
  await call(server.url, "POST", `/admin/setContentProcessingModules/${UNIT}`, {
    modules: {
      raw: [
        { module: "Fault", settings: { stallKeys: keys, stallMs: 10 } },
        { module: "FieldMapping", settings: { set: { seen: true } } },
      ],
    },
  });
  const lines = keys.map((key, n) => JSON.stringify({ action: "add", scope: "raw", key, content: { n } }));
  await call(server.url, "POST", `/transaction/batch/${UNIT}`, lines.join("\n"));
  const { runId } = await call(server.url, "POST", `/reprocess/all/${UNIT}/raw`);
  let before;
  do {
    await sleep(100);
    before = await call(server.url, "GET", `/reprocess/status/${UNIT}`);
  } while (before.processed < ITEMS / 3 || before.assigned === 0);
  await server.kill();
  console.log(`killed at processed ${before.processed} of ${ITEMS}, ${before.assigned} assigned`);

  server = await launchServer("node", { dataDir, token: TOKEN });
  const restarted = performance.now();
  let run;
  let status;
  for (;;) {
    ({ run } = await call(server.url, "GET", `/reprocess/run/${UNIT}/${runId}`));
    status = await call(server.url, "GET", `/reprocess/status/${UNIT}`);
    if (run.state === "done" && status.pending === 0 && status.assigned === 0) break;
    await sleep(100);
  }
  const seconds = (performance.now() - restarted) / 1000;
  console.log(`restart to done: ${seconds.toFixed(1)} s`);
  console.log(
    `run: processed ${run.processed}, failed ${run.failed}, total ${run.total}; unit processed ${status.processed}, lastError ${JSON.stringify(status.lastError)}`,
  );
} finally {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
