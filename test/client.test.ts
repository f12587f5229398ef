/**
 * The typed client (`restage/client`) against the Worker itself: its fetch is the Worker's
 * fetch handler, so each call goes through the whole HTTP surface.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { data, IngestError, restageClient, RestageError, type BatchLineInput } from "../src/client";
import { ADMIN_TOKEN, uniqueUnit } from "./helpers";

const BASE = "https://restage.test";

/** A fetch into the Worker that records each request's method, URL and body size. */
function workerFetch(sent: Array<{ method: string; url: string; bytes: number; lines: number }> = []): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const body = request.method === "GET" ? "" : await request.clone().text();
    sent.push({
      method: request.method,
      url: request.url,
      bytes: new TextEncoder().encode(body).length,
      lines: body === "" ? 0 : body.split("\n").length,
    });
    return exports.default.fetch(request);
  };
}

const admin = (fetch = workerFetch()) => restageClient({ baseUrl: BASE, token: ADMIN_TOKEN, fetch });

describe("the typed client", () => {
  it("runs the README's round trip: create, add, batch, fetch, page, modules, reprocess/all, status", async () => {
    const restage = admin();
    const { api } = restage;
    const unit = uniqueUnit();
    await data(api.admin.createStorageUnit[":unit"].$put({ param: { unit }, json: { reprocessingQueue: true } }));
    // a key with a slash travels percent-encoded
    await data(api.transaction.add[":unit"][":scope"].$put({ param: { unit, scope: "raw" }, json: { key: "a/1", content: { title: "One" } } }));
    const batch = await restage.ingest(unit, [
      { action: "add", scope: "raw", key: "b", content: { title: "Two" } },
      { action: "add", scope: "raw", key: "c", content: { title: "Three" } },
    ]);
    expect(batch).toEqual({ count: 2, errors: [], calls: 1 });

    const record = await data(api.access.fetch[":unit"][":key"].$get({ param: { unit, key: "a/1" } }));
    expect(record).toMatchObject({ message: "OK", key: "a/1", content: { raw: { title: "One" } } });
    const many = await data(api.access.fetchMultiple[":unit"].$get({ param: { unit }, query: { keys: "c,a/1" } }));
    expect(many.records.map((one) => one.key)).toEqual(["c", "a/1"]);
    const page = await data(api.access.fetchPage[":unit"].$get({ param: { unit }, query: { batchSize: "2" } }));
    expect(page.records.map((one) => one.key)).toEqual(["a/1", "b"]);
    expect(page.nextStartId).toBeTypeOf("string");

    await data(api.admin.setContentProcessingModules[":unit"].$post({ param: { unit }, json: { modules: { raw: [] } } }));
    const all = await data(api.reprocess.all[":unit"][":scope"].$post({ param: { unit, scope: "raw" }, query: {} }));
    expect(all.queued).toBe(3);
    const status = await data(api.reprocess.status[":unit"].$get({ param: { unit } }));
    expect(status).toMatchObject({ message: "OK", enabled: true, paused: false });
    expect(status.pending + status.assigned + status.processed).toBeGreaterThanOrEqual(3);
  });

  it("throws the answer's code and detail as a RestageError", async () => {
    const { api } = admin();
    const error = await data(api.access.fetch[":unit"][":key"].$get({ param: { unit: uniqueUnit(), key: "k" } })).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RestageError);
    expect(error).toMatchObject({ status: 404, code: "STORAGE_UNIT_DOESNT_EXIST" });
    const wrongToken = restageClient({ baseUrl: BASE, token: "nobody", fetch: workerFetch() });
    await expect(data(wrongToken.api.admin.listStorageUnits.$get())).rejects.toMatchObject({ status: 401, code: "UNAUTHORIZED" });
  });

  it("splits an ingest into batch calls within the limits and numbers the errors over the whole ingest", async () => {
    const sent: Array<{ method: string; url: string; bytes: number; lines: number }> = [];
    const restage = admin(workerFetch(sent));
    const unit = uniqueUnit();
    await data(restage.api.admin.createStorageUnit[":unit"].$put({ param: { unit }, json: {} }));
    async function* lines(): AsyncGenerator<BatchLineInput> {
      for (let line = 1; line <= 25; line++) {
        // lines 5 and 23 are refused by the server: a bad scope name, a policy "new" on an existing key
        if (line === 5) yield { action: "add", scope: "not a scope", key: `k${line}`, content: {} };
        else if (line === 23) yield { action: "add", scope: "raw", key: "k1", content: {}, policy: "new" };
        else yield { action: "add", scope: "raw", key: `k${line}`, content: { text: "é".repeat(line * 10) } };
      }
    }
    const limits = { maxItems: 10, maxBytes: 1500 };
    const result = await restage.ingest(unit, lines(), limits);
    const batches = sent.filter((request) => request.url.includes("/transaction/batch/"));
    expect(result.calls).toBe(batches.length);
    expect(batches.length).toBeGreaterThan(3);
    for (const batch of batches) {
      expect(batch.lines).toBeLessThanOrEqual(10);
      expect(batch.bytes).toBeLessThanOrEqual(1500);
    }
    expect(result.count).toBe(23);
    expect(result.errors.map(({ line, key, error }) => ({ line, key, error }))).toEqual([
      { line: 5, key: "k5", error: "INVALID_REQUEST" },
      { line: 23, key: "k1", error: "KEY_ALREADY_EXISTS" },
    ]);
    const page = await data(restage.api.access.fetchPage[":unit"].$get({ param: { unit }, query: { batchSize: "100" } }));
    expect(page.records).toHaveLength(23);
  });

  it("keeps each call within 10,000 lines by default", async () => {
    const sent: Array<{ method: string; url: string; bytes: number; lines: number }> = [];
    const restage = admin(workerFetch(sent));
    const unit = uniqueUnit();
    await data(restage.api.admin.createStorageUnit[":unit"].$put({ param: { unit }, json: {} }));
    const lines = Array.from({ length: 10_001 }, (_, index): BatchLineInput => ({ action: "add", scope: "raw", key: `k${index}`, content: {} }));
    const result = await restage.ingest(unit, lines);
    expect(result).toEqual({ count: 10_001, errors: [], calls: 2 });
    expect(sent.filter((request) => request.url.includes("/transaction/batch/")).map((request) => request.lines)).toEqual([10_000, 1]);
  });

  it("stops an ingest at a call refused whole, saying what was applied before", async () => {
    const restage = admin();
    const lines = Array.from({ length: 3 }, (_, index): BatchLineInput => ({ action: "add", scope: "raw", key: `k${index}`, content: {} }));
    const error = await restage.ingest(uniqueUnit(), lines, { maxItems: 2, maxBytes: 1e6 }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(IngestError);
    expect(error).toMatchObject({ status: 404, code: "STORAGE_UNIT_DOESNT_EXIST", fromLine: 1, done: { count: 0, calls: 1 } });
  });
});

describe("the typed client's retry", () => {
  const overloaded = () => Response.json({ message: "OVERLOADED", detail: "retry" }, { status: 503, headers: { "retry-after": "1" } });

  it("tries again after Retry-After on 503 OVERLOADED, then hands back the answer", async () => {
    const answers = [overloaded(), overloaded(), Response.json({ message: "OK", storageUnits: [] })];
    const waits: number[] = [];
    const calls: string[] = [];
    const restage = restageClient({
      baseUrl: BASE,
      token: "t",
      fetch: async (input, init) => {
        calls.push(`${init?.method} ${String(input)} ${new Headers(init?.headers).get("authorization")}`);
        return answers.shift()!;
      },
      retry: { sleep: async (ms) => void waits.push(ms) },
    });
    expect(await data(restage.api.admin.listStorageUnits.$get())).toEqual({ message: "OK", storageUnits: [] });
    expect(calls).toEqual(Array(3).fill(`GET ${BASE}/admin/listStorageUnits Bearer t`));
    expect(waits).toEqual([1000, 1000]);
  });

  it("gives up after the attempts allowed, backing off longer each time, and never retries other 503s", async () => {
    const waits: number[] = [];
    let calls = 0;
    const always = restageClient({
      baseUrl: BASE,
      token: "t",
      fetch: async () => {
        calls++;
        return overloaded();
      },
      retry: { attempts: 4, baseDelayMs: 600, sleep: async (ms) => void waits.push(ms) },
    });
    await expect(data(always.api.admin.listStorageUnits.$get())).rejects.toMatchObject({ status: 503, code: "OVERLOADED" });
    expect(calls).toBe(4);
    expect(waits).toEqual([1000, 1200, 2400]);

    calls = 0;
    const unconfigured = restageClient({
      baseUrl: BASE,
      token: "t",
      fetch: async () => {
        calls++;
        return Response.json({ message: "AUTH_NOT_CONFIGURED", detail: "set it" }, { status: 503 });
      },
      retry: { sleep: async () => undefined },
    });
    await expect(data(unconfigured.api.admin.listStorageUnits.$get())).rejects.toMatchObject({ code: "AUTH_NOT_CONFIGURED" });
    expect(calls).toBe(1);
  });
});
