import { env } from "cloudflare:workers";
import { ADMIN_CALL } from "../src/unit/grants";
import { beforeEach, describe, expect, it } from "vitest";
import { addRecord, call, createUnit, unitStub } from "./helpers";
import { createUser, grant } from "./security-helpers";
import { captureLogs } from "./support/logs";
import { LEAKED_SECRET } from "./support/publisher-secret";
import { bulkLines, drain, failedItems, publisherUrl, received, setModules, setReprocessing, status, type ModuleRef } from "./support/modules";

// most tests here provoke endpoint errors, which are logged: the tests that care assert on the log
beforeEach(() => void captureLogs());

function publisher(unit: string, behaviour: string, settings: Record<string, unknown> = {}): ModuleRef {
  return { module: "HttpPublisher", settings: { url: publisherUrl(unit, behaviour), ...settings } };
}

/** Queues adds of these keys (with their content) and deletes of `deleted`, all in one batch. */
async function changes(unit: string, documents: Record<string, Record<string, unknown>>, deleted: string[] = []): Promise<void> {
  for (const key of deleted) await addRecord(unit, "index", { key, content: { gone: true } });
  for (const [key, content] of Object.entries(documents)) await addRecord(unit, "index", { key, content });
  for (const key of deleted) expect((await call("POST", `/transaction/execute/${unit}/index`, { key, action: "delete" })).status).toBe(200);
}

describe("HttpPublisher, elasticsearch format", () => {
  it("sends one _bulk request per batch with index and delete actions", async () => {
    const unit = await createUnit();
    await setModules(unit, { index: [publisher(unit, "es", { format: "elasticsearch", index: "docs" })] });
    await changes(unit, { k1: { title: "One" }, "a/b": { title: "Two" } }, ["k3"]);
    await drain(unit);
    expect(await status(unit)).toMatchObject({ pending: 0, failed: 0, processed: 3 });
    const requests = await received(unit);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ method: "POST", path: `/${unit}/es/_bulk` });
    expect(requests[0]!.headers["content-type"]).toBe("application/x-ndjson");
    expect(requests[0]!.body.endsWith("\n")).toBe(true);
    const lines = bulkLines(requests[0]!.body);
    expect(lines).toHaveLength(5);
    expect(lines).toEqual(
      expect.arrayContaining([
        { index: { _index: "docs", _id: "k1" } },
        { title: "One" },
        { index: { _index: "docs", _id: "a/b" } },
        { title: "Two" },
        { delete: { _index: "docs", _id: "k3" } },
      ]),
    );
    // each index action is followed by its document
    const k1 = lines.findIndex((line) => line.index?._id === "k1");
    expect(lines[k1 + 1]).toEqual({ title: "One" });
  });

  it("fails only the items Elasticsearch rejects when the answer has errors: true", async () => {
    const unit = await createUnit();
    await setReprocessing(unit, { maxAttempts: 1 });
    await setModules(unit, { index: [publisher(unit, "es", { format: "elasticsearch", index: "docs" })] });
    await changes(unit, { good: { n: 1 }, bad: { n: 2, _reject: "failed to parse field [date]" }, fine: { n: 3 } });
    await drain(unit);
    expect(await status(unit)).toMatchObject({ pending: 0, failed: 1, processed: 2 });
    expect(await failedItems(unit)).toEqual([
      expect.objectContaining({ scope: "index", key: "bad", lastError: "HttpPublisher: elasticsearch: mapper_parsing_exception" }),
    ]);
  });
});

describe("HttpPublisher, solr format", () => {
  it("posts the documents with id as a JSON array and the deletions as {delete: [ids]}", async () => {
    const unit = await createUnit();
    await setModules(unit, { index: [publisher(unit, "solr/update", { format: "solr" })] });
    await changes(unit, { k1: { title: "One", id: "overridden by the key" }, k2: { title: "Two" } }, ["k3", "k4"]);
    await drain(unit);
    expect(await status(unit)).toMatchObject({ pending: 0, failed: 0, processed: 4 });
    const bodies = (await received(unit)).map((request) => JSON.parse(request.body));
    expect(bodies).toHaveLength(2);
    expect(bodies[0]).toEqual(
      expect.arrayContaining([
        { title: "One", id: "k1" },
        { title: "Two", id: "k2" },
      ]),
    );
    expect(bodies[0]).toHaveLength(2);
    expect(bodies[1]).toEqual({ delete: expect.arrayContaining(["k3", "k4"]) });
  });

  it("fails the whole batch when Solr refuses the update", async () => {
    const unit = await createUnit();
    await setReprocessing(unit, { maxAttempts: 1 });
    await setModules(unit, { index: [publisher(unit, "solr/update", { format: "solr" })] });
    await changes(unit, { k1: { title: "One" }, k2: { title: "Two", _reject: "unknown field '_reject'" } });
    await drain(unit);
    expect(await status(unit)).toMatchObject({ failed: 2, processed: 0 });
    for (const item of await failedItems(unit)) {
      expect(item.lastError).toMatch(
        /^HttpPublisher: POST http:\/\/127\.0\.0\.1:\d+\/.+\/solr\/update answered HTTP 400 org\.apache\.solr\.common\.SolrException$/,
      );
    }
  });
});

describe("HttpPublisher, json format", () => {
  it("posts upserts and deletes, and fails the items the answer lists in errors", async () => {
    const unit = await createUnit();
    await setReprocessing(unit, { maxAttempts: 1 });
    await setModules(unit, { index: [publisher(unit, "json")] });
    await changes(unit, { k1: { title: "One" }, k2: { title: "Two", _reject: "title too short" } }, ["k3"]);
    await drain(unit);
    const [request] = await received(unit);
    expect(request!.headers["content-type"]).toBe("application/json");
    const body = JSON.parse(request!.body);
    expect(body.upserts).toEqual(
      expect.arrayContaining([
        { key: "k1", scope: "index", document: { title: "One" } },
        { key: "k2", scope: "index", document: { title: "Two", _reject: "title too short" } },
      ]),
    );
    expect(body.deletes).toEqual([{ key: "k3", scope: "index" }]);
    expect(await status(unit)).toMatchObject({ failed: 1, processed: 2 });
    expect((await failedItems(unit))[0]).toMatchObject({ key: "k2", lastError: "HttpPublisher: rejected by the endpoint" });
  });

  it("sends the headers and the authSecret secret as Authorization", async () => {
    const unit = await createUnit();
    await setModules(unit, {
      index: [
        publisher(unit, "json", { headers: { "X-Tenant": "t1", Authorization: "replaced by the secret" }, authSecret: "RESTAGE_PUBLISHER_AUTH" }),
      ],
    });
    await changes(unit, { k1: {} });
    await drain(unit);
    const [request] = await received(unit);
    expect(request!.headers["x-tenant"]).toBe("t1");
    expect(request!.headers.authorization).toBe(env.RESTAGE_PUBLISHER_AUTH);
  });

  it("never sends a variable not meant for publishers, even from a pipeline stored before it was refused", async () => {
    const unit = await createUnit();
    await setReprocessing(unit, { maxAttempts: 1 });
    const settings = {
      url: publisherUrl(unit, "json"),
      format: "json",
      headers: {},
      timeoutMs: 10_000,
      maxRequestBytes: 8 * 1024 * 1024,
      authSecret: "ADMIN_TOKEN",
    };
    // straight to the unit, past the check of setContentProcessingModules
    await unitStub(unit).setModules(ADMIN_CALL, { modules: { index: [{ module: "HttpPublisher", settings }] }, settings: {} });
    await changes(unit, { k1: {} });
    await drain(unit);
    expect(await received(unit)).toEqual([]);
    expect((await failedItems(unit))[0]!.lastError).toMatch(
      /^HttpPublisher: settings\.authSecret: 'ADMIN_TOKEN' is not a secret meant for publishers/,
    );
  });

  it("publishes only items no module has failed, at its place in the pipeline", async () => {
    const unit = await createUnit();
    await setReprocessing(unit, { maxAttempts: 1 });
    await setModules(unit, {
      index: [
        { module: "Fault", settings: { failKeys: ["before"] } },
        { module: "FieldMapping", settings: { set: { stage: "at publisher" } } },
        publisher(unit, "json"),
        { module: "FieldMapping", settings: { set: { stage: "after publisher" } } },
        { module: "Fault", settings: { failKeys: ["after"] } },
      ],
    });
    await changes(unit, { before: {}, ok: {}, after: {} });
    await drain(unit);
    const [request] = await received(unit);
    expect(JSON.parse(request!.body).upserts).toEqual([{ key: "ok", scope: "index", document: { stage: "at publisher" } }]);
    expect(await status(unit)).toMatchObject({ failed: 2, processed: 1 });
  });

  it("sends nothing when every item failed before it", async () => {
    const unit = await createUnit();
    await setReprocessing(unit, { maxAttempts: 1 });
    await setModules(unit, { index: [{ module: "Fault", settings: { failAll: true } }, publisher(unit, "json")] });
    await changes(unit, { k1: {} });
    await drain(unit);
    expect(await received(unit)).toEqual([]);
  });
});

describe("HttpPublisher failing the batch", () => {
  const cases: Array<[string, string, Record<string, unknown>, RegExp]> = [
    ["a 503", "status/503", {}, /^HttpPublisher: POST http:\/\/127\.0\.0\.1:\d+\/\S+\/status\/503 answered HTTP 503$/],
    ["a 4xx without item errors", "status/404", {}, /answered HTTP 404$/],
    ["no answer within timeoutMs", "hang", { timeoutMs: 200 }, /^HttpPublisher: POST \S+\/hang did not answer within 200 ms \(timeoutMs\)$/],
  ];
  for (const [what, behaviour, settings, error] of cases) {
    it(`fails every item of the batch on ${what}`, async () => {
      const unit = await createUnit();
      await setReprocessing(unit, { maxAttempts: 1 });
      await setModules(unit, { index: [publisher(unit, behaviour, settings)] });
      await changes(unit, { k1: {}, k2: {} }, ["k3"]);
      await drain(unit);
      expect(await status(unit)).toMatchObject({ pending: 0, failed: 3, processed: 0 });
      for (const item of await failedItems(unit)) expect(item.lastError).toMatch(error);
      expect(await received(unit)).toHaveLength(1);
    });
  }

  it("fails every item of the batch on a network error, saying it could not connect to the URL and what to check", async () => {
    const unit = await createUnit();
    await setReprocessing(unit, { maxAttempts: 1 });
    // port 1 on the loopback: nothing listens there, the connection is refused
    await setModules(unit, { index: [{ module: "HttpPublisher", settings: { url: "http://127.0.0.1:1/bulk" } }] });
    await changes(unit, { k1: {} });
    await drain(unit);
    const [item] = await failedItems(unit);
    // Workers word a refused connection as a lost one ("Network connection lost"): the error names both, the URL, and what to check
    expect(item!.lastError).toMatch(
      /^HttpPublisher: POST http:\/\/127\.0\.0\.1:1\/bulk: could not connect to http:\/\/127\.0\.0\.1:1, or the connection was lost/,
    );
    expect(item!.lastError).toContain("check settings.url and that the endpoint is running");
  });

  it("succeeds when a retry finds the endpoint back after 503s", async () => {
    const unit = await createUnit();
    await setReprocessing(unit, { maxAttempts: 3, backoffMs: 10, maxBackoffMs: 10 });
    await setModules(unit, { index: [publisher(unit, "flaky/2/es", { format: "elasticsearch", index: "docs" })] });
    await changes(unit, { k1: { n: 1 }, k2: { n: 2 } });
    await drain(unit);
    expect(await status(unit)).toMatchObject({ pending: 0, failed: 0, processed: 2 });
    const requests = await received(unit);
    expect(requests).toHaveLength(3);
    expect(new Set(requests.map((request) => request.body)).size).toBe(1);
  });
});

describe("HttpPublisher errors as readers see them", () => {
  /** What a user with `r` on the unit reads of its errors: the status and the failed list. */
  async function readerView(unit: string): Promise<string> {
    const reader = await createUser();
    await grant("r", reader.name, unit);
    const seen = [
      await call("GET", `/reprocess/status/${unit}`, undefined, { token: reader.token }),
      await call("GET", `/reprocess/failed/${unit}`, undefined, { token: reader.token }),
    ];
    for (const answer of seen) expect(answer.status).toBe(200);
    return JSON.stringify(seen.map((answer) => answer.body));
  }

  it("keep the status and the error type of a refused request, without its answer, URL query or credentials; the log has the answer", async () => {
    const logs = captureLogs();
    const unit = await createUnit();
    await setReprocessing(unit, { maxAttempts: 1 });
    await setModules(unit, { index: [publisher(unit, "leaky/403?api_key=query-secret")] });
    await changes(unit, { k1: { n: 1 } });
    await drain(unit);
    const [item] = await failedItems(unit);
    expect(item!.lastError).toMatch(/^HttpPublisher: POST http:\/\/127\.0\.0\.1:\d+\/\S+\/leaky\/403 answered HTTP 403 security_exception$/);
    const view = await readerView(unit);
    expect(view).toContain("answered HTTP 403 security_exception");
    expect(view).not.toMatch(/sk_live|corp\.example|query-secret/);
    const [logged] = logs.of("publisher-rejected");
    expect(logged).toMatchObject({
      level: "warn",
      status: 403,
      stored: expect.stringContaining("HTTP 403 security_exception"),
      answer: expect.stringContaining(LEAKED_SECRET),
    });
    expect(logged!.url).not.toContain("query-secret");
  });

  it("keep an item error's type without its reason, which may quote the document; the log has the reason", async () => {
    const logs = captureLogs();
    const unit = await createUnit();
    await setReprocessing(unit, { maxAttempts: 1 });
    await setModules(unit, { index: [publisher(unit, "es", { format: "elasticsearch", index: "docs" })] });
    await changes(unit, { good: { n: 1 }, bad: { n: 2, _reject: "field [ssn] holds 123-45-6789" } });
    await drain(unit);
    expect(await failedItems(unit)).toEqual([
      expect.objectContaining({ key: "bad", lastError: "HttpPublisher: elasticsearch: mapper_parsing_exception" }),
    ]);
    const view = await readerView(unit);
    expect(view).not.toMatch(/sk_live|123-45-6789/);
    expect(logs.of("publisher-rejected")).toEqual([expect.objectContaining({ status: 200, answer: expect.stringMatching(/123-45-6789.*sk_live/) })]);
  });
});

describe("HttpPublisher splitting a batch into requests", () => {
  const bytes = (text: string) => new TextEncoder().encode(text).length;
  /** Documents of about `size` bytes as JSON each, with non-ASCII text so bytes and characters differ. */
  const documents = (count: number, size: number, extra: (index: number) => Record<string, unknown> = () => ({})) =>
    Object.fromEntries(Array.from({ length: count }, (_, index) => [`k${index}`, { text: "é".repeat(size / 2), ...extra(index) }]));

  it("json: sends requests of at most maxRequestBytes that together carry every item once, and fails only the rejected item", async () => {
    const unit = await createUnit();
    await setReprocessing(unit, { maxAttempts: 1 });
    await setModules(unit, { index: [publisher(unit, "json", { maxRequestBytes: 2048 })] });
    await changes(
      unit,
      documents(10, 400, (index) => (index === 8 ? { _reject: "not this one" } : {})),
      ["gone"],
    );
    await drain(unit);
    const requests = await received(unit);
    expect(requests.length).toBeGreaterThan(2);
    for (const request of requests) expect(bytes(request.body)).toBeLessThanOrEqual(2048);
    const bodies = requests.map((request) => JSON.parse(request.body));
    const upserted = bodies.flatMap((body) => body.upserts.map((upsert: { key: string }) => upsert.key));
    expect(upserted.sort()).toEqual(["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"]);
    expect(bodies.flatMap((body) => body.deletes)).toEqual([{ key: "gone", scope: "index" }]);
    expect(await status(unit)).toMatchObject({ pending: 0, failed: 1, processed: 10 });
    expect(await failedItems(unit)).toEqual([expect.objectContaining({ key: "k8", lastError: "HttpPublisher: rejected by the endpoint" })]);
  });

  it("elasticsearch: each request is a whole _bulk body within maxRequestBytes, and item errors of a later request fail those items", async () => {
    const unit = await createUnit();
    await setReprocessing(unit, { maxAttempts: 1 });
    await setModules(unit, { index: [publisher(unit, "es", { format: "elasticsearch", index: "docs", maxRequestBytes: 2048 })] });
    await changes(
      unit,
      documents(10, 400, (index) => (index === 9 ? { _reject: "mapping" } : {})),
    );
    await drain(unit);
    const requests = await received(unit);
    expect(requests.length).toBeGreaterThan(2);
    const ids: string[] = [];
    for (const request of requests) {
      expect(bytes(request.body)).toBeLessThanOrEqual(2048);
      expect(request.body.endsWith("\n")).toBe(true);
      const lines = bulkLines(request.body);
      for (let i = 0; i < lines.length; i += 2) {
        ids.push(lines[i]!.index._id);
        expect(lines[i + 1]!.text).toBeDefined();
      }
    }
    expect(ids.sort()).toEqual(["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"]);
    expect(await status(unit)).toMatchObject({ failed: 1, processed: 9 });
    expect((await failedItems(unit))[0]).toMatchObject({ key: "k9" });
  });

  it("solr: splits the documents and the deletions, each request within maxRequestBytes", async () => {
    const unit = await createUnit();
    await setModules(unit, { index: [publisher(unit, "solr/update", { format: "solr", maxRequestBytes: 2048 })] });
    await changes(unit, documents(8, 400), ["d1", "d2"]);
    await drain(unit);
    const bodies = (await received(unit)).map((request) => {
      expect(bytes(request.body)).toBeLessThanOrEqual(2048);
      return JSON.parse(request.body);
    });
    expect(
      bodies
        .filter(Array.isArray)
        .flat()
        .map((doc: { id: string }) => doc.id)
        .sort(),
    ).toEqual(["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"]);
    expect(
      bodies
        .filter((body) => !Array.isArray(body))
        .flatMap((body) => body.delete)
        .sort(),
    ).toEqual(["d1", "d2"]);
    expect(await status(unit)).toMatchObject({ failed: 0, processed: 10 });
  });

  it("fails alone an item too large for one request, naming maxRequestBytes", async () => {
    const unit = await createUnit();
    await setReprocessing(unit, { maxAttempts: 1 });
    await setModules(unit, { index: [publisher(unit, "json", { maxRequestBytes: 2048 })] });
    await changes(unit, { small: { n: 1 }, big: { text: "x".repeat(3000) } });
    await drain(unit);
    const requests = await received(unit);
    expect(requests.flatMap((request) => JSON.parse(request.body).upserts.map((upsert: { key: string }) => upsert.key))).toEqual(["small"]);
    expect(await status(unit)).toMatchObject({ failed: 1, processed: 1 });
    expect((await failedItems(unit))[0]).toMatchObject({
      key: "big",
      lastError: expect.stringMatching(/^HttpPublisher: .*maxRequestBytes \(2048\)/),
    });
  });

  it("fails the whole batch when a later request fails", async () => {
    const unit = await createUnit();
    await setReprocessing(unit, { maxAttempts: 1 });
    await setModules(unit, { index: [publisher(unit, "fail-after/1/json", { maxRequestBytes: 2048 })] });
    await changes(unit, documents(10, 400));
    await drain(unit);
    expect((await received(unit)).length).toBe(2);
    expect(await status(unit)).toMatchObject({ failed: 10, processed: 0 });
    for (const item of await failedItems(unit)) expect(item.lastError).toMatch(/answered HTTP 503$/);
  });

  it("keeps requests within 8 MiB by default", async () => {
    const unit = await createUnit();
    await setModules(unit, { index: [publisher(unit, "json")] });
    await changes(unit, Object.fromEntries(Array.from({ length: 9 }, (_, index) => [`k${index}`, { text: "x".repeat(1_000_000) }])));
    await drain(unit);
    const requests = await received(unit);
    expect(requests).toHaveLength(2);
    for (const request of requests) expect(bytes(request.body)).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(await status(unit)).toMatchObject({ failed: 0, processed: 9 });
  });
});
