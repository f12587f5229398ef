/**
 * What writes put in the queue (API.md, "Transaction API" and "Queue semantics"): with
 * content processing on, adds, deletes and batch lines queue their scope when it has a
 * pipeline, whether or not the reprocessing queue is enabled; a scope without a pipeline
 * completes at once. Through HTTP only.
 */
import { describe, expect, it } from "vitest";
import { addRecord, call, createUnit } from "./helpers";
import { addMany, drain, recorded, recorder, setPipelines, status } from "./queue-helpers";

describe("scopes without a module", () => {
  it("complete at once and count as processed (an empty pipeline)", async () => {
    const unit = await createUnit({ reprocessingQueue: true, contentProcessing: false });
    await setPipelines(unit, { raw: [] });
    await addMany(unit, "raw", 7);
    expect((await call("GET", `/reprocess/all/${unit}/raw`)).body).toEqual({ message: "OK", queued: 7, runId: expect.any(String) });
    expect(await drain(unit)).toMatchObject({ processed: 7, pending: 0, failed: 0 });
  });
});

describe("ingestion", () => {
  it("with content processing on and a pipeline, add and delete queue their scope (queue enabled or not)", async () => {
    const unit = await createUnit({ reprocessingQueue: false, contentProcessing: true });
    await setPipelines(unit, { raw: [recorder(unit)] });
    await addRecord(unit, "raw", { key: "k1", content: { a: 1 } });
    await addRecord(unit, "other", { key: "k1", content: { b: 1 } });
    await drain(unit);
    await call("POST", `/transaction/execute/${unit}/raw`, { key: "k1", action: "delete" });
    const s = await drain(unit);
    expect(s).toMatchObject({ enabled: false, processed: 2 });
    expect(recorded(unit, "process").map((c) => [c.key, c.scope, c.kind])).toEqual([
      ["k1", "raw", "process"],
      ["k1", "raw", "delete"],
    ]);
  });

  it("batch lines queue their scopes too", async () => {
    const unit = await createUnit({ contentProcessing: true });
    await setPipelines(unit, { raw: [recorder(unit)] });
    await call("PUT", `/reprocess/pause/${unit}`);
    const lines = [
      { action: "add", scope: "raw", key: "a", content: {} },
      { action: "add", scope: "raw", key: "b", content: {} },
      { action: "delete", scope: "raw", key: "a" },
      { action: "add", scope: "raw", key: "c", content: {}, policy: "new" },
      { action: "add", scope: "raw", key: "c", content: {}, policy: "new" },
    ];
    const answer = await call("POST", `/transaction/batch/${unit}`, lines.map((l) => JSON.stringify(l)).join("\n"));
    expect(answer.body.count).toBe(4);
    expect((await status(unit)).pending).toBe(3);
  });

  it("with content processing off, writes and deletes queue nothing", async () => {
    const unit = await createUnit({ reprocessingQueue: true, contentProcessing: false });
    await setPipelines(unit, { raw: [recorder(unit)] });
    await addRecord(unit, "raw", { key: "k1", content: {} });
    await call("POST", `/transaction/execute/${unit}/raw`, { key: "k1", action: "delete" });
    expect(await drain(unit)).toMatchObject({ pending: 0, processed: 0, nextRunAt: null });
    expect(recorded(unit)).toEqual([]);
    // switched on, the next write queues
    expect((await call("PUT", `/admin/enableContentProcessing/${unit}/true`)).status).toBe(200);
    await addRecord(unit, "raw", { key: "k2", content: {} });
    expect(await drain(unit)).toMatchObject({ processed: 1 });
    expect(recorded(unit, "process").map((c) => c.key)).toEqual(["k2"]);
  });
});
