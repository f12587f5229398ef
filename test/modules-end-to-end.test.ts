import { describe, expect, it } from "vitest";
import { call, createUnit, ndjson } from "./helpers";
import { bulkLines, drain, publisherUrl, received, setModules, status } from "./support/modules";

/** What the Elasticsearch endpoint was told since request `from`, per document id: its last document, or "deleted". */
async function indexState(tag: string, from = 0): Promise<Map<string, Record<string, unknown> | "deleted">> {
  const state = new Map<string, Record<string, unknown> | "deleted">();
  for (const request of (await received(tag)).slice(from)) {
    const lines = bulkLines(request.body);
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.delete) state.set(line.delete._id, "deleted");
      else state.set(line.index._id, lines[++i]!);
    }
  }
  return state;
}

describe("modules end to end: raw → FieldMapping → ScopeWriter(index) → HttpPublisher", () => {
  it("publishes every record, republishes the new shape after a mapping change and reprocess/all, and publishes deletions", async () => {
    const unit = await createUnit({ reprocessingQueue: true });
    const publish = { module: "HttpPublisher", settings: { url: publisherUrl(unit, "es"), format: "elasticsearch", index: "articles" } };
    const pipelines = (mapping: Record<string, unknown>) => ({
      raw: [
        { module: "FieldMapping", settings: mapping },
        { module: "ScopeWriter", settings: { scope: "index" } },
      ],
      index: [publish],
    });
    await setModules(unit, pipelines({ rename: { headline: "title" }, drop: ["internal"] }));

    const keys = Array.from({ length: 45 }, (_, i) => `article-${String(i).padStart(2, "0")}`);
    const lines = keys.map((key, i) => ({
      action: "add",
      scope: "raw",
      key,
      content: { headline: `Headline ${i}`, author: { name: `Author ${i % 3}` }, internal: i },
    }));
    expect((await call("POST", `/transaction/batch/${unit}`, ndjson(lines))).body).toEqual({ message: "OK", count: 45 });
    await drain(unit);
    expect(await status(unit)).toMatchObject({ pending: 0, failed: 0, processed: 90 });
    const first = await indexState(unit);
    expect([...first.keys()].sort()).toEqual(keys);
    for (const [i, key] of keys.entries()) expect(first.get(key)).toEqual({ title: `Headline ${i}`, author: { name: `Author ${i % 3}` } });

    // a new mapping: reprocessing the stored raw content reaches the index without going back to the source
    await setModules(
      unit,
      pipelines({ rename: { headline: "name" }, copy: { "author.name": "authorName" }, set: { schema: 2 }, only: ["name", "authorName", "schema"] }),
    );
    const before = (await received(unit)).length;
    expect((await call("POST", `/reprocess/all/${unit}/raw`)).body).toEqual({ message: "OK", queued: 45, runId: expect.any(String) });
    await drain(unit);
    expect(await status(unit)).toMatchObject({ pending: 0, failed: 0, processed: 180 });
    const second = await indexState(unit, before);
    expect([...second.keys()].sort()).toEqual(keys);
    for (const [i, key] of keys.entries()) expect(second.get(key)).toEqual({ name: `Headline ${i}`, authorName: `Author ${i % 3}`, schema: 2 });
    expect((await call("GET", `/access/fetch/${unit}/article-07/index`)).body.content.index).toEqual({
      name: "Headline 7",
      authorName: "Author 1",
      schema: 2,
    });

    // deleting a whole record, or only its raw scope (ScopeWriter then deletes the index scope): both reach the endpoint
    const afterReprocess = (await received(unit)).length;
    expect((await call("POST", `/transaction/execute/${unit}/$record`, { key: "article-03", action: "delete" })).status).toBe(200);
    expect((await call("POST", `/transaction/execute/${unit}/raw`, { key: "article-04", action: "delete" })).status).toBe(200);
    await drain(unit);
    expect(await status(unit)).toMatchObject({ pending: 0, failed: 0 });
    const third = await indexState(unit, afterReprocess);
    expect(third.get("article-03")).toBe("deleted");
    expect(third.get("article-04")).toBe("deleted");
    expect(third.size).toBe(2);
    expect((await call("GET", `/access/fetch/${unit}/article-04`)).status).toBe(404);
  });
});
