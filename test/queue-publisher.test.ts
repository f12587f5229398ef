import { describe, expect, it } from "vitest";
import { QUEUE_LIMITS } from "../src/modules/queue-publisher";
import { addRecord, call, createUnit, ndjson } from "./helpers";
import { drain, outbox, setModules, setReprocessing, status } from "./support/modules";

async function queueUnit(batchSize = 20): Promise<string> {
  const unit = await createUnit();
  await setReprocessing(unit, { maxAttempts: 1, batchSize });
  await setModules(unit, { index: [{ module: "QueuePublisher", settings: { binding: "OUTBOX" } }] });
  return unit;
}

describe("QueuePublisher", () => {
  it("delivers each document and deletion to the queue's consumer", async () => {
    const unit = await queueUnit();
    await addRecord(unit, "index", { key: "k1", content: { title: "One" }, version: 7 });
    await addRecord(unit, "index", { key: "k2", content: { title: "Two" } });
    await drain(unit);
    expect((await call("POST", `/transaction/execute/${unit}/index`, { key: "k2", action: "delete" })).status).toBe(200);
    await drain(unit);
    expect(await status(unit)).toMatchObject({ pending: 0, failed: 0, processed: 3 });
    const messages = await outbox(unit, 3);
    expect(messages).toHaveLength(3);
    expect(messages).toEqual(
      expect.arrayContaining([
        { unit, scope: "index", key: "k1", kind: "process", version: 7, document: { title: "One" } },
        { unit, scope: "index", key: "k2", kind: "process", version: expect.any(Number), document: { title: "Two" } },
        { unit, scope: "index", key: "k2", kind: "delete" },
      ]),
    );
  });

  it("sends a document over 128 KB as a reference for the consumer to fetch", async () => {
    const unit = await queueUnit();
    await addRecord(unit, "index", { key: "big", content: { text: "x".repeat(QUEUE_LIMITS.messageBytes) }, version: 3 });
    await addRecord(unit, "index", { key: "small", content: { text: "x" } });
    await drain(unit);
    const messages = await outbox(unit, 2);
    expect(messages).toEqual(
      expect.arrayContaining([
        { unit, scope: "index", key: "big", kind: "process", version: 3, tooLarge: true },
        expect.objectContaining({ key: "small", document: { text: "x" } }),
      ]),
    );
    // what the reference points to is there to fetch
    expect((await call("GET", `/access/fetch/${unit}/big/index`)).status).toBe(200);
  });

  // 150 small items would be one call of 150 messages; 150 items of ~5 KB one call of ~750 KB
  for (const [limit, textBytes] of [
    ["100 messages", 10],
    ["256 KB", 5000],
  ] as const) {
    it(`splits a large batch into sendBatch calls within ${limit}`, async () => {
      const unit = await queueUnit(150);
      const lines = Array.from({ length: 150 }, (_, i) => ({
        action: "add",
        scope: "index",
        key: `k${String(i).padStart(3, "0")}`,
        content: { i, text: "y".repeat(textBytes) },
      }));
      expect((await call("POST", `/transaction/batch/${unit}`, ndjson(lines))).body).toEqual({ message: "OK", count: 150 });
      await drain(unit);
      expect(await status(unit)).toMatchObject({ pending: 0, failed: 0, processed: 150 });
      const messages = await outbox(unit, 150);
      expect(new Set(messages.map((message) => message.key)).size).toBe(150);
    });
  }

  it("refuses a pipeline naming a binding that does not exist with 400 INVALID_MODULE_SETTINGS", async () => {
    const unit = await createUnit();
    const answer = await call("POST", `/admin/setContentProcessingModules/${unit}`, {
      modules: { index: [{ module: "QueuePublisher", settings: { binding: "MISSING_OUTBOX" } }] },
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      message: "INVALID_MODULE_SETTINGS",
      detail: expect.stringContaining(`modules.index[0] (QueuePublisher): settings.binding: no Queue producer binding named 'MISSING_OUTBOX'`),
    });
  });
});
