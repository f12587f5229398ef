/**
 * The reprocessing benchmark: one unit filled with BENCH_RECORDS records (default
 * 1,000,000) through `transaction/batch`, a Noop pipeline with batchSize 1000, then
 * `reprocess/all` and the drain of the queue it fills, timed from outside the unit.
 * It measures and prints; it asserts only that every item was processed.
 */
import { env, exports } from "cloudflare:workers";
import { expect, it } from "vitest";

const TOKEN = "bench-admin-token";
const LINES_PER_BATCH = 10_000;
const benchEnv = env as unknown as { BENCH_RECORDS: string; BENCH_BATCH_SIZE: string };

async function api(method: string, path: string, body?: string | object): Promise<any> {
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
  if (body !== undefined) headers["content-type"] = typeof body === "string" ? "application/x-ndjson" : "application/json";
  const response = await exports.default.fetch(
    new Request(`https://restage.bench${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    }),
  );
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const perSecond = (count: number, ms: number) => Math.round(count / (ms / 1000)).toLocaleString("en-US");

it("drains a unit through a Noop pipeline", async () => {
  const records = Number(benchEnv.BENCH_RECORDS);
  const batchSize = Number(benchEnv.BENCH_BATCH_SIZE);
  const unit = "bench";
  await api("PUT", `/admin/createStorageUnit/${unit}`, { contentProcessing: false, reprocessingQueue: true });
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

  // poll rarely while much is left (a status read counts the queue), closely near the end
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

  console.log(
    [
      `records:        ${records.toLocaleString("en-US")} stored in ${(storeMs / 1000).toFixed(2)} s (${perSecond(records, storeMs)} records/s through transaction/batch)`,
      `settings:       batchSize ${settings.batchSize}, workers ${settings.workers}, concurrency ${settings.concurrency}, pipeline Noop`,
      `reprocess/all:  ${allMs} ms to answer (queued ${all.queued.toLocaleString("en-US")})`,
      `drain:          ${(drainMs / 1000).toFixed(2)} s from reprocess/all to an empty queue (${polls} status reads)`,
      `throughput:     ${perSecond(records, drainMs)} items/s`,
    ].join("\n"),
  );
});
