/**
 * Fairness between units on the self-hosted Node server, where every unit shares one event
 * loop: while one unit runs a heavy synchronous pipeline (each item joins a thousand records
 * of about 1 KB and writes the result to another scope), another unit's status still
 * answers in well under 300 ms. Node only (or a server at RESTAGE_E2E_URL with
 * RESTAGE_E2E_FAIRNESS set): on Workers each unit has an object of its own, and the other
 * self-hosted runtimes share this code.
 */
import { describe, expect, inject, it } from "vitest";
import { ok, target, uniqueUnit } from "./client";

const { kind } = inject("e2e");
const server = target();
const { call } = server;

const REFS = 1000;
const DOCUMENTS = 300;
const WRITES = 20;
const WRITE_EVERY_MS = 400;
const P95_LIMIT_MS = 300;

const ndjson = (lines: unknown[]) => lines.map((line) => JSON.stringify(line)).join("\n");
const refKey = (i: number) => `r${String(i).padStart(4, "0")}`;
/** About 1 KB of content: a thousand of them joined stay inside the 1 MiB content limit. */
const refContent = (i: number, round = 0) => ({ n: i, round, text: `${round}:${"x".repeat(880)}` });
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** How long one status read of `unit` takes, in ms; waits as long as it takes, since the slow answers are what is measured. */
async function timedStatus(unit: string): Promise<number> {
  const start = performance.now();
  const response = await fetch(`${server.url}/reprocess/status/${unit}`, {
    headers: { authorization: `Bearer ${server.token}` },
    signal: AbortSignal.timeout(120_000),
  });
  expect(response.status).toBe(200);
  await response.arrayBuffer();
  return performance.now() - start;
}

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))]!;

describe.skipIf(kind !== "node" && !process.env.RESTAGE_E2E_FAIRNESS)("fairness between units", () => {
  it("another unit's status stays fast while one unit runs a heavy synchronous pipeline", { timeout: 240_000 }, async () => {
    const heavy = uniqueUnit("heavy");
    const quiet = uniqueUnit("quiet");
    // one shard each: this is the one process's yield budget between units (a unit's shards
    // share that process too, and a join of a thousand records over 8 shards takes a call per shard)
    await ok(call("PUT", `/admin/createStorageUnit/${heavy}`, { contentProcessing: true, reprocessingQueue: true, shards: 1 }));
    await ok(call("PUT", `/admin/createStorageUnit/${quiet}`, { contentProcessing: true, reprocessingQueue: true, shards: 1 }));
    await ok(
      call("POST", `/admin/setContentProcessingModules/${heavy}`, {
        modules: {
          raw: [
            { module: "ForeignKeyJoin", settings: { field: "refs", scope: "ref", as: "joined" } },
            { module: "ScopeWriter", settings: { scope: "index" } },
          ],
        },
      }),
    );
    const keys = Array.from({ length: REFS }, (_, i) => refKey(i));
    await ok(
      call("POST", `/transaction/batch/${heavy}`, ndjson(keys.map((key, i) => ({ action: "add", scope: "ref", key, content: refContent(i) })))),
    );
    // every document references all thousand: each write to one of them queues all the documents again
    await ok(
      call(
        "POST",
        `/transaction/batch/${heavy}`,
        ndjson(Array.from({ length: DOCUMENTS }, (_, i) => ({ action: "add", scope: "raw", key: `d${i}`, content: { refs: keys } }))),
      ),
    );

    const before = await ok(call("GET", `/reprocess/status/${heavy}`));
    const latencies: number[] = [];
    let writing = true;
    const writes = (async () => {
      try {
        for (let round = 1; round <= WRITES; round++) {
          await sleep(WRITE_EVERY_MS);
          const start = performance.now();
          await ok(call("PUT", `/transaction/add/${heavy}/ref`, { key: refKey(round), content: refContent(round, round) }));
          if (process.env.RESTAGE_E2E_VERBOSE)
            console.log(
              `write ${round}: ${(performance.now() - start).toFixed(0)} ms; status reads so far ${latencies.length}, max ${Math.max(0, ...latencies).toFixed(0)} ms`,
            );
        }
      } finally {
        writing = false;
      }
    })();
    while (writing) latencies.push(await timedStatus(quiet));
    await writes;
    const after = await ok(call("GET", `/reprocess/status/${heavy}`));
    const p95 = percentile(latencies, 95);
    console.log(
      `fairness: ${latencies.length} status reads of another unit, p50 ${percentile(latencies, 50).toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms; heavy items processed meanwhile: ${after.processed - before.processed}`,
    );

    // the heavy pipeline did run while the status was measured, and has more left
    expect(after.processed - before.processed).toBeGreaterThan(20);
    expect(after.pending + after.assigned).toBeGreaterThan(0);
    expect(latencies.length).toBeGreaterThan(20);
    expect(p95).toBeLessThan(P95_LIMIT_MS);
    await ok(call("DELETE", `/admin/deleteStorageUnit/${heavy}`));
  });
});
