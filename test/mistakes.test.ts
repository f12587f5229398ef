/**
 * Answers to the mistakes a new user makes (API.md, "Conventions" and "Reprocess API"): each
 * is refused rather than passed, and its detail says what is wrong and what to do.
 */
import { describe, expect, it } from "vitest";
import { addRecord, call, createUnit, enc, uniqueUnit } from "./helpers";
import { createUser, grant } from "./security-helpers";
import { setModules } from "./support/modules";

const MiB = 1024 * 1024;

/** The three seed routes that name a scope, in each of their forms, for `scope` of `unit`. */
function scopeCalls(unit: string, scope: string): Array<[string, string, unknown?]> {
  return [
    ["GET", `/reprocess/key/${unit}/k1/${scope}`],
    ["POST", `/reprocess/key/${unit}/k1/${scope}`],
    ["GET", `/reprocess/keys/${unit}/${scope}?keys=k1,k2`],
    ["POST", `/reprocess/keys/${unit}/${scope}`, { keys: ["k1", "k2"] }],
    ["GET", `/reprocess/all/${unit}/${scope}`],
    ["POST", `/reprocess/all/${unit}/${scope}?prefix=k`],
  ];
}

describe("reprocessing a scope the unit has no pipeline for", () => {
  for (const shards of [1, 4]) {
    it(`is 400 INVALID_REQUEST naming the scopes that have a pipeline, and queues nothing (${shards} shard${shards > 1 ? "s" : ""})`, async () => {
      const unit = await createUnit({ reprocessingQueue: true, contentProcessing: false, shards });
      await setModules(unit, { raw: [{ module: "Noop" }], index: [] });
      for (const key of ["k1", "k2"]) await addRecord(unit, "raw", { key, content: { n: 1 } });
      for (const [method, path, body] of scopeCalls(unit, "rwa")) {
        const answer = await call(method, path, body);
        expect(answer.status, `${method} ${path}`).toBe(400);
        expect(answer.body.message).toBe("INVALID_REQUEST");
        expect(answer.body.detail).toContain(`scope 'rwa' has no pipeline on storage unit '${unit}'`);
        expect(answer.body.detail).toContain("scopes with a pipeline: 'raw', 'index'");
        expect(answer.body.detail).toContain(`POST /admin/setContentProcessingModules/${unit}`);
      }
      // not a finished run: no run was started, nothing was queued
      expect((await call("GET", `/reprocess/runs/${unit}`)).body.runs).toEqual([]);
      expect((await call("GET", `/reprocess/status/${unit}`)).body).toMatchObject({ pending: 0, assigned: 0, processed: 0 });
    });
  }

  it("is accepted when the scope's pipeline is empty, as when it has modules", async () => {
    const unit = await createUnit({ reprocessingQueue: true, contentProcessing: false });
    await setModules(unit, { raw: [{ module: "Noop" }], index: [] });
    for (const scope of ["raw", "index"]) {
      await addRecord(unit, scope, { key: "k1", content: { n: 1 } });
      await addRecord(unit, scope, { key: "k2", content: { n: 2 } });
      for (const [method, path, body] of scopeCalls(unit, scope)) {
        expect((await call(method, path, body)).status, `${method} ${path}`).toBe(200);
      }
    }
  });

  it("says so when the unit has no pipeline at all", async () => {
    const unit = await createUnit({ reprocessingQueue: true });
    const answer = await call("GET", `/reprocess/all/${unit}/raw`);
    expect(answer.status).toBe(400);
    expect(answer.body.detail).toContain("(it has none yet)");
  });

  it("is checked after the unit, the caller's access and the disabled queue", async () => {
    const missing = uniqueUnit("gone");
    expect(await call("GET", `/reprocess/all/${missing}/nope`)).toMatchObject({ status: 404, body: { message: "STORAGE_UNIT_DOESNT_EXIST" } });
    const unit = await createUnit({ reprocessingQueue: false });
    expect(await call("GET", `/reprocess/all/${unit}/nope`)).toMatchObject({ status: 409, body: { message: "REPROCESSING_QUEUE_DISABLED" } });
    await call("PUT", `/admin/enableReprocessingQueue/${unit}/true`);
    const reader = await createUser();
    await grant("r", reader.name, unit);
    expect((await call("GET", `/reprocess/all/${unit}/nope`, undefined, { token: reader.token })).status).toBe(403);
    expect((await call("GET", `/reprocess/all/${unit}/nope`, undefined, { token: null })).status).toBe(401);
    expect((await call("GET", `/reprocess/all/${unit}/nope`)).status).toBe(400);
  });
});

describe("transaction/batch given one JSON array", () => {
  it.each([
    ["an array", '[{"action":"add","scope":"raw","key":"k1","content":{}}]'],
    [
      "an array after whitespace",
      '\n  [{"action":"add","scope":"raw","key":"k1","content":{}},\n{"action":"add","scope":"raw","key":"k2","content":{}}]',
    ],
    ["an empty array", "[]"],
  ])("is 400 INVALID_REQUEST saying to send one object per line (%s), and applies nothing", async (_, body) => {
    const unit = await createUnit();
    const answer = await call("POST", `/transaction/batch/${unit}`, body, { headers: { "content-type": "application/json" } });
    expect(answer.status).toBe(400);
    expect(answer.body.message).toBe("INVALID_REQUEST");
    expect(answer.body.detail).toContain("one JSON array");
    expect(answer.body.detail).toContain("send one JSON object per line");
    expect((await call("GET", `/access/fetch/${unit}/k1`)).status).toBe(404);
  });
});

describe("a key sent with an unencoded '/'", () => {
  it.each([
    ["GET", "/access/fetch/{unit}/x/raw/extra", "GET|POST /access/fetch/{unit}/{key}/{scope}"],
    ["POST", "/access/fetch/{unit}/a/b/c/raw", "GET|POST /access/fetch/{unit}/{key}/{scope}"],
    ["GET", "/reprocess/key/{unit}/a/b/raw", "GET|POST /reprocess/key/{unit}/{key}/{scope}"],
    ["POST", "/reprocess/key/{unit}/a/b/raw", "GET|POST /reprocess/key/{unit}/{key}/{scope}"],
  ])("%s %s is 404 NOT_FOUND naming the route it resembles and saying to percent-encode the key", async (method, path, route) => {
    const unit = await createUnit({ reprocessingQueue: true });
    const answer = await call(method, path.replace("{unit}", unit));
    expect(answer.status).toBe(404);
    expect(answer.body.message).toBe("NOT_FOUND");
    expect(answer.body.detail).toContain(`it has more segments than ${route}`);
    expect(answer.body.detail).toContain("a key holding '/' must be percent-encoded (encodeURIComponent");
  });

  it("of two segments on access/fetch reads the first as the key and the second as the scope (the path cannot tell them apart)", async () => {
    const unit = await createUnit();
    await addRecord(unit, "raw", { key: "x", content: { from: "key x" } });
    await addRecord(unit, "raw", { key: "x/raw", content: { from: "key x/raw" } });
    expect((await call("GET", `/access/fetch/${unit}/x/raw`)).body).toMatchObject({ key: "x", content: { raw: { from: "key x" } } });
    expect((await call("GET", `/access/fetch/${unit}/${enc("x/raw")}`)).body).toMatchObject({ key: "x/raw" });
  });

  it("a path with extra segments on a route that names no key still gets the plain 404", async () => {
    const answer = await call("GET", "/health/extra");
    expect(answer).toMatchObject({ status: 404, body: { message: "NOT_FOUND" } });
    expect(answer.body.detail).not.toContain("percent-encoded");
  });
});

describe("a single document over the content limit", () => {
  it.each([
    ["2 MiB: over the body limit", 2 * MiB],
    ["just over 1 MiB: within the body limit", MiB + 100],
  ])("is 413 saying the per-scope limit and to store less, not to split the request (%s)", async (_, bytes) => {
    const unit = await createUnit();
    const answer = await call("PUT", `/transaction/add/${unit}/raw`, { key: "big", content: { text: "x".repeat(bytes) } });
    expect(answer.status).toBe(413);
    expect(answer.body.message).toBe("PAYLOAD_TOO_LARGE");
    expect(answer.body.detail).toContain(`${MiB} bytes (1 MiB)`);
    expect(answer.body.detail).toContain("store less in that scope, or split the content across scopes or keys");
    expect(answer.body.detail).not.toContain("smaller requests");
  });
});

describe("a storage unit that does not exist", () => {
  it.each([
    ["GET", "/reprocess/status/{unit}"],
    ["GET", "/admin/getStorageUnit/{unit}"],
    ["PUT", "/transaction/add/{unit}/raw"],
    ["GET", "/access/fetch/{unit}/k1"],
  ])("is named by the 404 of %s %s, with how to find or create it", async (method, path) => {
    const unit = uniqueUnit("missing");
    const answer = await call(method, path.replace("{unit}", unit), method === "PUT" ? { key: "k1", content: {} } : undefined);
    expect(answer.status).toBe(404);
    expect(answer.body.message).toBe("STORAGE_UNIT_DOESNT_EXIST");
    expect(answer.body.detail).toContain(`no storage unit '${unit}'`);
    expect(answer.body.detail).toContain(`PUT /admin/createStorageUnit/${unit}`);
  });
});
