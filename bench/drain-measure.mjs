// The drain benchmarks' one workload and measure (bench/drain-http.mjs, bench/bullmq.mjs):
// records of a news feed through a FieldMapping pipeline, ingested through
// `transaction/batch`, then drained by `reprocess/all`.

const LINES_PER_REQUEST = 10_000;

/** Record `i` of the workload, as a BullMQ job's data or a stored record's content. */
export function documentOf(i) {
  return { headline: `Document ${i}`, n: i, author: { name: `Author ${i % 100}` }, internal: "x" };
}

/** The pipeline every drain runs; bench/bullmq.mjs does the same to each job by hand. */
export const PIPELINE = {
  modules: {
    raw: [{ module: "FieldMapping", settings: { rename: { headline: "title" }, copy: { "author.name": "authorName" }, drop: ["internal"] } }],
  },
};

/** `records` records as `transaction/batch` bodies of 10,000 lines, built once per run. */
export function drainBodies(records) {
  const bodies = [];
  for (let start = 0; start < records; start += LINES_PER_REQUEST) {
    const lines = [];
    for (let i = start; i < Math.min(records, start + LINES_PER_REQUEST); i++)
      lines.push(JSON.stringify({ action: "add", scope: "raw", key: `doc-${String(i).padStart(8, "0")}`, content: documentOf(i) }));
    bodies.push(lines.join("\n"));
  }
  return bodies;
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/** One ingest of `bodies` and drain on the server at `url` (a fresh unit); returns both rates a second. */
export async function measureDrain(api, url, bodies, records, batchSize) {
  const unit = "drain";
  await api(url, "PUT", `/admin/createStorageUnit/${unit}`, { contentProcessing: false, reprocessingQueue: true });
  await api(url, "POST", `/admin/setContentProcessingModules/${unit}`, PIPELINE);
  await api(url, "PUT", `/admin/setReprocessingSettings/${unit}`, { batchSize });
  const ingestStart = performance.now();
  for (const body of bodies) await api(url, "POST", `/transaction/batch/${unit}`, body);
  const ingestMs = performance.now() - ingestStart;
  const drainStart = performance.now();
  await api(url, "POST", `/reprocess/all/${unit}/raw`);
  let status;
  for (;;) {
    status = await api(url, "GET", `/reprocess/status/${unit}`);
    if (!status.filling && status.pending + status.assigned === 0) break;
    await sleep(20);
  }
  const drainMs = performance.now() - drainStart;
  if (status.processed !== records || status.failed !== 0) throw new Error(`drain ended with ${JSON.stringify(status)}`);
  return { ingest: records / (ingestMs / 1000), drain: records / (drainMs / 1000) };
}
