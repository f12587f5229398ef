/** Content round trip over HTTP: write, read back every way, delete, and the guards around them. */
import { beforeAll, describe, expect, it } from "vitest";
import { enc, ok, target, uniqueUnit } from "./client";

const { call } = target();

describe("content round trip", () => {
  let unit: string;
  const article = { title: "Grüße — 東京 ✓", author: { name: "Ada", tags: ["x", "y"] }, score: 3.5, draft: false, notes: null };

  beforeAll(async () => {
    unit = uniqueUnit("content");
    await ok(call("PUT", `/admin/createStorageUnit/${unit}`));
  });

  it("serves health and the OpenAPI document without a token, and guards the rest", async () => {
    expect(await call("GET", "/health", undefined, { token: null })).toMatchObject({ status: 200, body: { message: "OK" } });
    const openapi = await call("GET", "/openapi.json", undefined, { token: null });
    expect(openapi.status).toBe(200);
    expect(openapi.body.paths).toHaveProperty("/reprocess/reset/{unit}");
    expect((await call("GET", "/admin/listStorageUnits", undefined, { token: null })).body.message).toBe("UNAUTHORIZED");
    expect((await call("GET", "/admin/listStorageUnits", undefined, { token: "wrong" })).status).toBe(401);
  });

  it("reads back what was written, byte for byte, under awkward keys", async () => {
    for (const key of ["doc-1", "a/b c", "comma,key", "ключ"]) {
      await ok(call("POST", `/transaction/add/${unit}/raw`, { key, content: article }));
      const record = await ok(call("GET", `/access/fetch/${unit}/${enc(key)}`));
      expect(record).toMatchObject({ message: "OK", key, content: { raw: article } });
      expect(record.meta.raw.version).toBeTypeOf("number");
      expect(Date.parse(record.meta.raw.updatedAt)).not.toBeNaN();
    }
    const many = await ok(call("GET", `/access/fetchMultiple/${unit}/raw?keys=${enc("comma,key")},missing,${enc("a/b c")}`));
    expect(many.records.map((record: { key: string }) => record.key)).toEqual(["comma,key", "a/b c"]);
    const posted = await ok(call("POST", `/access/fetchMultiple/${unit}`, { keys: ["ключ", "doc-1"] }));
    expect(posted.records.map((record: { key: string }) => record.key)).toEqual(["ключ", "doc-1"]);
  });

  it("keeps scopes apart, pages in key order, and applies NDJSON batches line by line", async () => {
    const batch = [
      { action: "add", scope: "raw", key: "p-1", content: { n: 1 } },
      { action: "add", scope: "raw", key: "p-2", content: { n: 2 } },
      { action: "add", scope: "ocr", key: "p-1", content: { text: "scanned" } },
      { action: "add", scope: "raw", key: "p-3" },
    ];
    const answer = await call("POST", `/transaction/batch/${unit}`, batch.map((line) => JSON.stringify(line)).join("\n"), {
      headers: { "content-type": "application/x-ndjson" },
    });
    expect(answer.body).toMatchObject({ message: "COMPLETED_WITH_ERRORS", count: 3, errors: [{ line: 4, key: "p-3", error: "INVALID_REQUEST" }] });

    const record = await ok(call("GET", `/access/fetch/${unit}/p-1`));
    expect(record.content).toEqual({ raw: { n: 1 }, ocr: { text: "scanned" } });
    expect((await ok(call("GET", `/access/fetch/${unit}/p-1/ocr`))).content).toEqual({ ocr: { text: "scanned" } });

    const first = await ok(call("GET", `/access/fetchPage/${unit}/raw?batchSize=2`));
    const keys = first.records.map((r: { key: string }) => r.key);
    const second = await ok(call("GET", `/access/fetchPage/${unit}/raw?batchSize=100&startId=${enc(first.nextStartId)}`));
    keys.push(...second.records.map((r: { key: string }) => r.key));
    expect(second.nextStartId).toBeUndefined();
    expect(keys).toEqual([...keys].sort((a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    expect(keys).toEqual(expect.arrayContaining(["p-1", "p-2", "doc-1", "a/b c"]));
  });

  it("refuses an older version, deletes a scope, and keeps the tombstone's version", async () => {
    await ok(call("PUT", `/transaction/add/${unit}/raw`, { key: "v", content: { v: 2 }, version: 200 }));
    const older = await call("PUT", `/transaction/add/${unit}/raw`, { key: "v", content: { v: 1 }, version: 100 });
    expect(older).toMatchObject({ status: 409, body: { message: "NEWER_VERSION_ALREADY_EXISTS" } });
    expect((await ok(call("GET", `/access/fetch/${unit}/v`))).content.raw).toEqual({ v: 2 });

    await ok(call("POST", `/transaction/execute/${unit}/raw`, { key: "v", action: "delete", version: 300 }));
    expect(await call("GET", `/access/fetch/${unit}/v`)).toMatchObject({ status: 404, body: { message: "KEY_NOT_FOUND" } });
    const revived = await call("PUT", `/transaction/add/${unit}/raw`, { key: "v", content: { v: 3 }, version: 250 });
    expect(revived).toMatchObject({ status: 409, body: { message: "NEWER_VERSION_ALREADY_EXISTS" } });
    const mustExist = await call("POST", `/transaction/execute/${unit}/raw`, { key: "never", action: "delete", policy: "mustexist" });
    expect(mustExist).toMatchObject({ status: 404, body: { message: "KEY_NOT_FOUND" } });
  });

  it("answers 404 for a unit that does not exist and 409 for one that does", async () => {
    expect((await call("GET", `/access/fetch/${unit}-missing/doc-1`)).body.message).toBe("STORAGE_UNIT_DOESNT_EXIST");
    expect(await call("PUT", `/admin/createStorageUnit/${unit}`)).toMatchObject({ status: 409, body: { message: "STORAGE_UNIT_ALREADY_EXISTS" } });
    const listed = await ok(call("GET", "/admin/listStorageUnits"));
    expect(listed.storageUnits.map((u: { name: string }) => u.name)).toContain(unit);
  });
});
