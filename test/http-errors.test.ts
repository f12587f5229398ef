/** The HTTP surface: auth, unknown routes and methods, unreadable bodies, and every limit of API.md at and past its edge. */
import { env, exports } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createApp } from "../src/app";
import { ADMIN_TOKEN, addRecord, call, createUnit, enc, ndjson } from "./helpers";
import { captureLogs } from "./support/logs";

const MiB = 1024 * 1024;

/** Content whose JSON text is exactly `bytes` UTF-8 bytes; `filler` may be multi-byte to tell bytes from characters. */
function contentOfBytes(bytes: number, filler = "x"): Record<string, string> {
  const overhead = JSON.stringify({ s: "" }).length;
  const fillerBytes = new TextEncoder().encode(filler).length;
  const count = Math.floor((bytes - overhead) / fillerBytes);
  const rest = bytes - overhead - count * fillerBytes;
  const content = { s: filler.repeat(count) + "x".repeat(rest) };
  expect(new TextEncoder().encode(JSON.stringify(content)).length).toBe(bytes);
  return content;
}

/** A JSON object nested `depth` levels deep: depth 1 is `{}`. */
function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let level = 1; level < depth; level++) value = { a: value };
  return value;
}

/** Every route of the Admin, Transaction and Access APIs as the OpenAPI document lists them, with path parameters filled in. */
async function guardedRoutes(unit: string): Promise<Array<[string, string]>> {
  const doc = await call("GET", "/openapi.json", undefined, { token: null });
  const routes: Array<[string, string]> = [];
  for (const [path, operations] of Object.entries(doc.body.paths as Record<string, Record<string, { tags: string[] }>>)) {
    for (const [method, operation] of Object.entries(operations)) {
      if (!["Admin", "Transaction", "Access"].includes(operation.tags[0]!)) continue;
      const filled = path.replace("{unit}", unit).replace("{key}", "k").replace("{scope}", "raw").replace("{enabled}", "true");
      routes.push([method.toUpperCase(), filled]);
    }
  }
  return routes;
}

describe("auth", () => {
  let unit: string;
  let routes: Array<[string, string]>;
  beforeAll(async () => {
    unit = await createUnit();
    await addRecord(unit, "raw", { key: "k", content: { secret: true } });
    routes = await guardedRoutes(unit);
  });

  it("the OpenAPI document lists every admin, transaction and access route", () => {
    const listed = new Set(routes.map(([method, path]) => `${method} ${path.replace(unit, "U")}`));
    for (const expected of [
      "PUT /admin/createStorageUnit/U",
      "DELETE /admin/deleteStorageUnit/U",
      "GET /admin/listStorageUnits",
      "GET /admin/getStorageUnit/U",
      "POST /admin/setContentProcessingModules/U",
      "GET /admin/getContentProcessingModules/U",
      "PUT /admin/enableReprocessingQueue/U/true",
      "PUT /admin/enableContentProcessing/U/true",
      "PUT /admin/setReprocessingSettings/U",
      "PUT /transaction/add/U/raw",
      "POST /transaction/add/U/raw",
      "PUT /transaction/execute/U/raw",
      "POST /transaction/execute/U/raw",
      "POST /transaction/batch/U",
      "GET /access/fetch/U/k",
      "POST /access/fetch/U/k",
      "GET /access/fetch/U/k/raw",
      "POST /access/fetch/U/k/raw",
      "GET /access/fetchMultiple/U",
      "POST /access/fetchMultiple/U",
      "GET /access/fetchMultiple/U/raw",
      "POST /access/fetchMultiple/U/raw",
      "GET /access/fetchPage/U",
      "POST /access/fetchPage/U",
      "GET /access/fetchPage/U/raw",
      "POST /access/fetchPage/U/raw",
    ]) {
      expect(listed, expected).toContain(expected);
    }
  });

  it("answers 401 UNAUTHORIZED on every route without a token", async () => {
    for (const [method, path] of routes) {
      const answer = await call(method, path, undefined, { token: null });
      expect(answer.status, `${method} ${path}`).toBe(401);
      expect(answer.body.message).toBe("UNAUTHORIZED");
      expect(answer.body.detail).toContain("Authorization");
    }
  });

  it("answers 401 UNAUTHORIZED on every route with a wrong token", async () => {
    for (const [method, path] of routes) {
      const answer = await call(method, path, undefined, { token: "not-the-token" });
      expect(answer.status, `${method} ${path}`).toBe(401);
      expect(answer.body.message).toBe("UNAUTHORIZED");
    }
  });

  it("refuses tokens that only resemble the admin token, and other schemes", async () => {
    for (const authorization of [`Basic ${ADMIN_TOKEN}`, `Bearer ${ADMIN_TOKEN}x`, `Bearer ${ADMIN_TOKEN.slice(0, -1)}`, "Bearer", ADMIN_TOKEN]) {
      const answer = await call("GET", `/access/fetch/${unit}/k`, undefined, { token: null, headers: { authorization } });
      expect(answer.status, authorization).toBe(401);
    }
  });

  it("a refused write changes nothing", async () => {
    await call("PUT", `/transaction/add/${unit}/raw`, { key: "k", content: { secret: false } }, { token: "wrong" });
    expect((await call("GET", `/access/fetch/${unit}/k`)).body.content.raw).toEqual({ secret: true });
  });

  it("accepts the admin token with any case of 'Bearer'", async () => {
    const answer = await call("GET", `/access/fetch/${unit}/k`, undefined, { token: null, headers: { authorization: `bearer ${ADMIN_TOKEN}` } });
    expect(answer.status).toBe(200);
  });

  it("leaves /health and /openapi.json open", async () => {
    expect(await call("GET", "/health", undefined, { token: null })).toMatchObject({ status: 200, body: { message: "OK" } });
    expect((await call("GET", "/health", undefined, { token: "wrong" })).status).toBe(200);
    const doc = await call("GET", "/openapi.json", undefined, { token: null });
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe("3.1.0");
  });

  it("answers 503 AUTH_NOT_CONFIGURED on guarded routes when no ADMIN_TOKEN is set, and keeps /health open", async () => {
    const app = createApp();
    const unconfigured = { ...env, ADMIN_TOKEN: undefined };
    const guarded = await app.request(`/access/fetch/${unit}/k`, { headers: { authorization: "Bearer anything" } }, unconfigured);
    expect(guarded.status).toBe(503);
    const body = (await guarded.json()) as { message: string; detail: string };
    expect(body.message).toBe("AUTH_NOT_CONFIGURED");
    // on Workers the token is a Worker secret: the answer says how to set one here
    expect(body.detail).toContain("`wrangler secret put ADMIN_TOKEN` (or in .dev.vars locally)");
    expect((await app.request("/admin/listStorageUnits", {}, { ...env, ADMIN_TOKEN: "" })).status).toBe(503);
    expect((await app.request("/health", {}, unconfigured)).status).toBe(200);
  });
});

describe("unknown routes and methods", () => {
  it.each([
    ["GET", "/nope"],
    ["GET", "/"],
    ["GET", "/access/fetch/u1"],
    ["GET", "/access/fetch/u1/k/raw/extra"],
    ["PUT", "/admin/createStorageUnit"],
    ["POST", "/transaction/batch/u1/raw"],
  ])("answers 404 NOT_FOUND for %s %s, token or not", async (method, path) => {
    for (const token of [undefined, null]) {
      const answer = await call(method, path, undefined, { token });
      expect(answer.status).toBe(404);
      expect(answer.body.message).toBe("NOT_FOUND");
      expect(answer.body.detail).toContain(path);
    }
  });

  it.each([
    ["DELETE", "/access/fetch/u1/k", "GET, POST"],
    ["PUT", "/access/fetchMultiple/u1/raw", "GET, POST"],
    ["DELETE", "/access/fetchPage/u1", "GET, POST"],
    ["GET", "/transaction/add/u1/raw", "PUT, POST"],
    ["DELETE", "/transaction/execute/u1/raw", "PUT, POST"],
    ["PUT", "/transaction/batch/u1", "POST"],
    ["POST", "/admin/createStorageUnit/u1", "PUT"],
    ["GET", "/admin/deleteStorageUnit/u1", "DELETE"],
    ["POST", "/admin/listStorageUnits", "GET"],
    ["PUT", "/admin/getStorageUnit/u1", "GET"],
    ["PUT", "/admin/setContentProcessingModules/u1", "POST"],
    ["POST", "/admin/getContentProcessingModules/u1", "GET"],
    ["GET", "/admin/enableReprocessingQueue/u1/true", "PUT"],
    ["POST", "/admin/enableContentProcessing/u1/true", "PUT"],
    ["POST", "/admin/setReprocessingSettings/u1", "PUT"],
    ["POST", "/health", "GET"],
    ["POST", "/openapi.json", "GET"],
    ["DELETE", "/docs", "GET"],
    ["POST", "/docs/app.js", "GET"],
    ["PUT", "/docs/scalar.js", "GET"],
    ["POST", "/dashboard", "GET"],
    ["DELETE", "/dashboard/app.js", "GET"],
    ["POST", "/dashboard/app.css", "GET"],
  ])("answers 405 METHOD_NOT_ALLOWED for %s %s, naming %s", async (method, path, allowed) => {
    const answer = await call(method, path);
    expect(answer.status).toBe(405);
    expect(answer.body.message).toBe("METHOD_NOT_ALLOWED");
    expect(answer.headers.get("allow")).toBe(allowed);
    for (const name of allowed.split(", ")) expect(answer.body.detail).toContain(name);
  });
});

describe("unreadable bodies", () => {
  let unit: string;
  beforeAll(async () => {
    unit = await createUnit();
  });

  it.each([
    ["PUT", "/transaction/add/{unit}/raw"],
    ["PUT", "/transaction/execute/{unit}/raw"],
    ["POST", "/access/fetchMultiple/{unit}"],
    ["POST", "/admin/setContentProcessingModules/{unit}"],
    ["PUT", "/admin/setReprocessingSettings/{unit}"],
    ["PUT", "/admin/createStorageUnit/fresh-{unit}"],
  ])("answers 400 INVALID_REQUEST for malformed JSON on %s %s", async (method, path) => {
    for (const text of ['{"key": "k",', "not json", "{'key': 1}", '{"a":1} trailing']) {
      const answer = await call(method, path.replace("{unit}", unit), text, { headers: { "content-type": "application/json" } });
      expect(answer.status).toBe(400);
      expect(answer.body.message).toBe("INVALID_REQUEST");
      expect(answer.body.detail).toContain("malformed JSON");
    }
  });

  it("answers 400 for a JSON body that is not an object", async () => {
    for (const text of ["null", "[]", '"text"', "42"]) {
      const answer = await call("PUT", `/transaction/add/${unit}/raw`, text);
      expect(answer.status).toBe(400);
      expect(answer.body.message).toBe("INVALID_REQUEST");
    }
  });

  it("answers 400 for a body that is not UTF-8", async () => {
    const bytes = new Uint8Array([...new TextEncoder().encode('{"key":"'), 0xff, 0xfe, ...new TextEncoder().encode('","content":{}}')]);
    const answer = await call("PUT", `/transaction/add/${unit}/raw`, bytes);
    expect(answer.status).toBe(400);
    expect(answer.body.detail).toContain("UTF-8");
    const batch = await call("POST", `/transaction/batch/${unit}`, bytes);
    expect(batch.status).toBe(400);
  });

  it("reads a JSON body whatever its content type", async () => {
    const answer = await call("PUT", `/transaction/add/${unit}/raw`, JSON.stringify({ key: "typed", content: {} }), {
      headers: { "content-type": "text/plain" },
    });
    expect(answer.status).toBe(200);
  });
});

describe("limits", () => {
  let unit: string;
  beforeAll(async () => {
    unit = await createUnit();
  });

  it("stores content of exactly 1 MiB of JSON text and refuses 1 MiB + 1 byte with 413", async () => {
    expect((await call("PUT", `/transaction/add/${unit}/raw`, { key: "at", content: contentOfBytes(MiB) })).status).toBe(200);
    expect((await call("GET", `/access/fetch/${unit}/at`)).body.content.raw).toEqual(contentOfBytes(MiB));
    const over = await call("PUT", `/transaction/add/${unit}/raw`, { key: "over", content: contentOfBytes(MiB + 1) });
    expect(over.status).toBe(413);
    expect(over.body.message).toBe("PAYLOAD_TOO_LARGE");
    expect((await call("GET", `/access/fetch/${unit}/over`)).status).toBe(404);
  });

  it("measures content in UTF-8 bytes, not characters", async () => {
    const wide = contentOfBytes(MiB + 1, "é");
    expect(JSON.stringify(wide).length).toBeLessThan(MiB);
    const answer = await call("PUT", `/transaction/add/${unit}/raw`, { key: "wide", content: wide });
    expect(answer.status).toBe(413);
    expect((await call("PUT", `/transaction/add/${unit}/raw`, { key: "wide", content: contentOfBytes(MiB, "é") })).status).toBe(200);
  });

  it("applies the content limit to each batch line", async () => {
    const answer = await call(
      "POST",
      `/transaction/batch/${unit}`,
      ndjson([
        { action: "add", scope: "raw", key: "line-at", content: contentOfBytes(MiB) },
        { action: "add", scope: "raw", key: "line-over", content: contentOfBytes(MiB + 1) },
      ]),
    );
    expect(answer.body).toMatchObject({
      message: "COMPLETED_WITH_ERRORS",
      count: 1,
      errors: [{ line: 2, key: "line-over", error: "PAYLOAD_TOO_LARGE" }],
    });
  });

  it("stores content nested 64 levels and refuses 65 with 400, in add and in a batch", async () => {
    expect((await call("PUT", `/transaction/add/${unit}/raw`, { key: "deep", content: nested(64) })).status).toBe(200);
    expect((await call("GET", `/access/fetch/${unit}/deep`)).body.content.raw).toEqual(nested(64));
    const tooDeep = await call("PUT", `/transaction/add/${unit}/raw`, { key: "deeper", content: nested(65) });
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.body.message).toBe("INVALID_REQUEST");
    expect(tooDeep.body.detail).toContain("64");
    const batch = await call(
      "POST",
      `/transaction/batch/${unit}`,
      ndjson([
        { action: "add", scope: "raw", key: "deep-line", content: nested(64) },
        { action: "add", scope: "raw", key: "deeper-line", content: nested(65) },
      ]),
    );
    expect(batch.body).toMatchObject({ message: "COMPLETED_WITH_ERRORS", count: 1, errors: [{ line: 2, error: "INVALID_REQUEST" }] });
  });

  it("refuses hostile nesting with 400, not a crash", async () => {
    const text = `{"key":"k","content":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
    const answer = await call("PUT", `/transaction/add/${unit}/raw`, text);
    expect(answer.status).toBe(400);
  });

  it("takes a key of 512 UTF-8 bytes and refuses 513, in a body and in a path", async () => {
    const at = "é".repeat(256);
    const over = `${"é".repeat(256)}x`;
    await addRecord(unit, "raw", { key: at, content: { at: true } });
    expect((await call("GET", `/access/fetch/${unit}/${enc(at)}`)).body.key).toBe(at);
    const inBody = await call("PUT", `/transaction/add/${unit}/raw`, { key: over, content: {} });
    expect(inBody.status).toBe(400);
    expect(inBody.body.detail).toContain("body.key");
    expect(inBody.body.detail).toContain("512");
    const inPath = await call("GET", `/access/fetch/${unit}/${enc(over)}`);
    expect(inPath.status).toBe(400);
    expect(inPath.body.detail).toContain("path.key");
  });

  it.each(["\u0000", "\n", "\r", "\u001f", "\u007f", "\u0085", "\u009f"])(
    "refuses a key holding the control character U+%s with 400",
    async (char) => {
      const key = `a${char}b`;
      const inBody = await call("PUT", `/transaction/add/${unit}/raw`, { key, content: {} });
      expect(inBody.status).toBe(400);
      expect(inBody.body.detail).toContain("control");
      expect((await call("GET", `/access/fetch/${unit}/${enc(key)}`)).status).toBe(400);
    },
  );

  it("refuses a JSON body past its limit with 413 even when content-length says it is small", async () => {
    const text = JSON.stringify({ keys: Array.from({ length: 1000 }, (_, i) => `${i}-`.padEnd(500, "k")) }) + " ".repeat(MiB);
    const honest = await call("POST", `/access/fetchMultiple/${unit}`, text);
    expect(honest.status).toBe(413);
    expect(honest.body.message).toBe("PAYLOAD_TOO_LARGE");
    const lying = await call("POST", `/access/fetchMultiple/${unit}`, text, { headers: { "content-length": "20" } });
    expect(lying.status).toBe(413);
    expect(lying.body.message).toBe("PAYLOAD_TOO_LARGE");
  });

  it("refuses a streamed body with no content-length past the limit with 413", async () => {
    const chunk = new TextEncoder().encode(" ".repeat(MiB));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        // far more than any limit, to show the reader stops early rather than buffering all of it
        if (sent++ < 64) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const request = new Request(`https://restage.test/transaction/batch/${unit}`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      body: stream,
      duplex: "half",
    } as RequestInit);
    const response = await exports.default.fetch(request);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { message: string }).message).toBe("PAYLOAD_TOO_LARGE");
    expect(sent).toBeLessThan(64);
  });

  it("refuses a batch with a content-length past 16 MiB before reading it", async () => {
    const answer = await call("POST", `/transaction/batch/${unit}`, "{}", { headers: { "content-length": String(16 * MiB + 1) } });
    expect(answer.status).toBe(413);
  });
});

describe("unexpected errors", () => {
  afterEach(() => vi.restoreAllMocks());

  it("answers 500 INTERNAL_ERROR without a stack trace and logs one JSON line", async () => {
    const logs = captureLogs();
    // an app without its Durable Object bindings fails inside the handler, as any unexpected bug would
    const app = createApp();
    const response = await app.request("/access/fetch/u1/k", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }, { ADMIN_TOKEN });
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({ message: "INTERNAL_ERROR", detail: expect.any(String) });
    expect(text).not.toMatch(/at .*\.ts|stack/i);
    expect(logs.entries).toEqual([
      expect.objectContaining({ level: "error", event: "unhandled", path: "/access/fetch/u1/k", stack: expect.any(String) }),
    ]);
  });
});

describe("authentication before validation", () => {
  it("answers 401 to a request without a token even when its input is also bad", async () => {
    const bad = await call("GET", "/access/fetch/-not-a-name-/k", undefined, { token: null });
    expect(bad.status).toBe(401);
    expect(bad.body.message).toBe("UNAUTHORIZED");
    const badBody = await call("POST", "/transaction/add/docs/raw", "{not json", { token: "wrong" });
    expect(badBody.status).toBe(401);
  });

  it("still names the bad field once the token is valid", async () => {
    const bad = await call("GET", "/access/fetch/-not-a-name-/k");
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toContain("path.unit");
  });
});
