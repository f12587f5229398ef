/** Transaction API: add policies, the version rule with tombstones, deletes, and NDJSON batches. */
import { describe, expect, it } from "vitest";
import { addRecord, call, createUnit, enc, ndjson, uniqueUnit } from "./helpers";

const fetchRecord = (unit: string, key: string, scope?: string) => call("GET", `/access/fetch/${unit}/${enc(key)}${scope ? `/${scope}` : ""}`);
const remove = (unit: string, scope: string, body: Record<string, unknown>) =>
  call("PUT", `/transaction/execute/${unit}/${scope}`, { action: "delete", ...body });

describe("transaction/add", () => {
  it("stores a scope through PUT and POST alike", async () => {
    const unit = await createUnit();
    expect((await call("PUT", `/transaction/add/${unit}/raw`, { key: "k1", content: { a: 1 } })).body).toEqual({ message: "OK" });
    expect((await call("POST", `/transaction/add/${unit}/raw`, { key: "k2", content: { b: 2 } })).body).toEqual({ message: "OK" });
    expect((await fetchRecord(unit, "k1")).body.content).toEqual({ raw: { a: 1 } });
    expect((await fetchRecord(unit, "k2")).body.content).toEqual({ raw: { b: 2 } });
  });

  it("versions a write with the time of the write when no version is given", async () => {
    const unit = await createUnit();
    const before = Date.now();
    await addRecord(unit, "raw", { key: "k", content: {} });
    const after = Date.now();
    const { meta } = (await fetchRecord(unit, "k")).body;
    expect(meta.raw.version).toBeGreaterThanOrEqual(before);
    expect(meta.raw.version).toBeLessThanOrEqual(after);
    expect(Date.parse(meta.raw.updatedAt)).toBeGreaterThanOrEqual(before);
  });

  it("merge (the default) replaces the written scope and keeps the others", async () => {
    const unit = await createUnit();
    await addRecord(unit, "raw", { key: "k", content: { a: 1, keep: "no" } });
    await addRecord(unit, "index", { key: "k", content: { i: 1 } });
    await addRecord(unit, "raw", { key: "k", content: { b: 2 }, policy: "merge" });
    expect((await fetchRecord(unit, "k")).body.content).toEqual({ raw: { b: 2 }, index: { i: 1 } });
  });

  it("overwrite replaces the whole record, dropping its other scopes", async () => {
    const unit = await createUnit();
    await addRecord(unit, "raw", { key: "k", content: { a: 1 }, version: 10 });
    await addRecord(unit, "index", { key: "k", content: { i: 1 }, version: 10 });
    await addRecord(unit, "raw", { key: "k", content: { a: 2 }, policy: "overwrite", version: 20 });
    const got = await fetchRecord(unit, "k");
    expect(got.body.content).toEqual({ raw: { a: 2 } });
    expect(Object.keys(got.body.meta)).toEqual(["raw"]);
    // the dropped scope is a tombstone at the overwrite's version: an older write cannot bring it back
    const stale = await call("PUT", `/transaction/add/${unit}/index`, { key: "k", content: { i: 0 }, version: 15 });
    expect(stale.status).toBe(409);
    expect(stale.body.message).toBe("NEWER_VERSION_ALREADY_EXISTS");
  });

  it("new refuses a key that exists with 409 KEY_ALREADY_EXISTS and changes nothing", async () => {
    const unit = await createUnit();
    await addRecord(unit, "raw", { key: "k", content: { a: 1 } });
    const again = await call("PUT", `/transaction/add/${unit}/index`, { key: "k", content: { i: 1 }, policy: "new" });
    expect(again.status).toBe(409);
    expect(again.body.message).toBe("KEY_ALREADY_EXISTS");
    expect(again.body.detail).toContain("'k'");
    expect((await fetchRecord(unit, "k")).body.content).toEqual({ raw: { a: 1 } });
  });

  it("new accepts a key that does not exist, including one whose scopes were all deleted", async () => {
    const unit = await createUnit();
    expect((await call("PUT", `/transaction/add/${unit}/raw`, { key: "fresh", content: {}, policy: "new" })).status).toBe(200);
    await addRecord(unit, "raw", { key: "gone", content: { v: 1 }, version: 1 });
    expect((await remove(unit, "$record", { key: "gone", version: 2 })).status).toBe(200);
    expect((await call("PUT", `/transaction/add/${unit}/raw`, { key: "gone", content: { v: 2 }, policy: "new", version: 3 })).status).toBe(200);
    expect((await fetchRecord(unit, "gone")).body.content).toEqual({ raw: { v: 2 } });
  });

  it("refuses a write older than the stored version with 409 and keeps the stored content", async () => {
    const unit = await createUnit();
    await addRecord(unit, "raw", { key: "k", content: { v: 100 }, version: 100 });
    const older = await call("PUT", `/transaction/add/${unit}/raw`, { key: "k", content: { v: 99 }, version: 99 });
    expect(older.status).toBe(409);
    expect(older.body.message).toBe("NEWER_VERSION_ALREADY_EXISTS");
    expect(older.body.detail).toContain("100");
    const got = await fetchRecord(unit, "k");
    expect(got.body.content.raw).toEqual({ v: 100 });
    expect(got.body.meta.raw.version).toBe(100);
  });

  it("accepts a write of the same or a newer version", async () => {
    const unit = await createUnit();
    await addRecord(unit, "raw", { key: "k", content: { v: 1 }, version: 100 });
    await addRecord(unit, "raw", { key: "k", content: { v: 2 }, version: 100 });
    await addRecord(unit, "raw", { key: "k", content: { v: 3 }, version: 101.5 });
    const got = await fetchRecord(unit, "k");
    expect(got.body.content.raw).toEqual({ v: 3 });
    expect(got.body.meta.raw.version).toBe(101.5);
  });

  it("applies the version rule per scope", async () => {
    const unit = await createUnit();
    await addRecord(unit, "raw", { key: "k", content: {}, version: 100 });
    await addRecord(unit, "index", { key: "k", content: { i: 1 }, version: 5 });
    expect((await fetchRecord(unit, "k")).body.meta.index.version).toBe(5);
  });

  it("answers 404 STORAGE_UNIT_DOESNT_EXIST for a unit that was never created", async () => {
    const answer = await call("PUT", `/transaction/add/${uniqueUnit()}/raw`, { key: "k", content: {} });
    expect(answer.status).toBe(404);
    expect(answer.body.message).toBe("STORAGE_UNIT_DOESNT_EXIST");
  });

  it.each([
    ["body.key", "a missing key", { content: {} }],
    ["body.key", "an empty key", { key: "", content: {} }],
    ["body.key", "a key that is not a string", { key: 5, content: {} }],
    ["body.key", "a key with a control character", { key: "a\u0001b", content: {} }],
    ["body.key", "a key with a tab", { key: "tab\there", content: {} }],
    ["body.key", "a key of 513 bytes", { key: "x".repeat(513), content: {} }],
    ["body.content", "missing content", { key: "k" }],
    ["body.content", "content that is an array", { key: "k", content: [1, 2] }],
    ["body.content", "content that is a string", { key: "k", content: "text" }],
    ["body.policy", "an unknown policy", { key: "k", content: {}, policy: "replace" }],
    ["body.version", "a version that is a string", { key: "k", content: {}, version: "1" }],
    ["body.version", "a negative version", { key: "k", content: {}, version: -1 }],
  ])("answers 400 INVALID_REQUEST naming %s for %s", async (field, _case, body) => {
    const unit = await createUnit();
    const answer = await call("PUT", `/transaction/add/${unit}/raw`, body);
    expect(answer.status).toBe(400);
    expect(answer.body.message).toBe("INVALID_REQUEST");
    expect(answer.body.detail).toContain(field);
  });

  it("answers 400 naming the scope for a bad scope name, $record included", async () => {
    const unit = await createUnit();
    for (const scope of ["-raw", "$record", "a".repeat(65)]) {
      const answer = await call("PUT", `/transaction/add/${unit}/${enc(scope)}`, { key: "k", content: {} });
      expect(answer.status).toBe(400);
      expect(answer.body.detail).toContain("scope");
    }
  });
});

describe("transaction/execute", () => {
  it("deletes one scope through PUT and POST, keeping the others", async () => {
    const unit = await createUnit();
    await addRecord(unit, "raw", { key: "k", content: { a: 1 } });
    await addRecord(unit, "index", { key: "k", content: { i: 1 } });
    await addRecord(unit, "ocr", { key: "k", content: { o: 1 } });
    expect((await call("PUT", `/transaction/execute/${unit}/index`, { key: "k", action: "delete" })).body).toEqual({ message: "OK" });
    expect((await call("POST", `/transaction/execute/${unit}/ocr`, { key: "k", action: "delete" })).body).toEqual({ message: "OK" });
    const got = await fetchRecord(unit, "k");
    expect(got.body.content).toEqual({ raw: { a: 1 } });
    expect(Object.keys(got.body.meta)).toEqual(["raw"]);
    expect((await fetchRecord(unit, "k", "index")).status).toBe(404);
  });

  it("$record deletes every scope of the record", async () => {
    const unit = await createUnit();
    await addRecord(unit, "raw", { key: "k", content: {} });
    await addRecord(unit, "index", { key: "k", content: {} });
    await addRecord(unit, "raw", { key: "other", content: {} });
    expect((await remove(unit, "$record", { key: "k" })).status).toBe(200);
    expect((await fetchRecord(unit, "k")).body.message).toBe("KEY_NOT_FOUND");
    expect((await fetchRecord(unit, "other")).status).toBe(200);
  });

  it("leaves a tombstone: an older write cannot bring a deleted scope back, a newer one can", async () => {
    const unit = await createUnit();
    await addRecord(unit, "raw", { key: "k", content: { v: 10 }, version: 10 });
    expect((await remove(unit, "raw", { key: "k", version: 20 })).status).toBe(200);
    const stale = await call("PUT", `/transaction/add/${unit}/raw`, { key: "k", content: { v: 15 }, version: 15 });
    expect(stale.status).toBe(409);
    expect(stale.body.message).toBe("NEWER_VERSION_ALREADY_EXISTS");
    expect((await fetchRecord(unit, "k")).status).toBe(404);
    await addRecord(unit, "raw", { key: "k", content: { v: 21 }, version: 21 });
    expect((await fetchRecord(unit, "k")).body.content.raw).toEqual({ v: 21 });
  });

  it("leaves tombstones for every scope a $record delete removed", async () => {
    const unit = await createUnit();
    await addRecord(unit, "raw", { key: "k", content: {}, version: 10 });
    await addRecord(unit, "index", { key: "k", content: {}, version: 12 });
    expect((await remove(unit, "$record", { key: "k", version: 30 })).status).toBe(200);
    for (const scope of ["raw", "index"]) {
      const stale = await call("PUT", `/transaction/add/${unit}/${scope}`, { key: "k", content: {}, version: 29 });
      expect(stale.body.message).toBe("NEWER_VERSION_ALREADY_EXISTS");
    }
    expect((await fetchRecord(unit, "k")).status).toBe(404);
  });

  it("refuses a delete older than the stored version with 409 and keeps the scope", async () => {
    const unit = await createUnit();
    await addRecord(unit, "raw", { key: "k", content: { v: 1 }, version: 50 });
    const older = await remove(unit, "raw", { key: "k", version: 49 });
    expect(older.status).toBe(409);
    expect(older.body.message).toBe("NEWER_VERSION_ALREADY_EXISTS");
    expect((await fetchRecord(unit, "k")).body.content.raw).toEqual({ v: 1 });
    const olderRecord = await remove(unit, "$record", { key: "k", version: 49 });
    expect(olderRecord.status).toBe(409);
    expect((await fetchRecord(unit, "k")).status).toBe(200);
  });

  it("refuses a delete older than an earlier delete", async () => {
    const unit = await createUnit();
    await addRecord(unit, "raw", { key: "k", content: {}, version: 1 });
    expect((await remove(unit, "raw", { key: "k", version: 10 })).status).toBe(200);
    expect((await remove(unit, "raw", { key: "k", version: 5 })).body.message).toBe("NEWER_VERSION_ALREADY_EXISTS");
  });

  it("silent (the default) accepts deleting what does not exist", async () => {
    const unit = await createUnit();
    expect((await remove(unit, "raw", { key: "never" })).body).toEqual({ message: "OK" });
    expect((await remove(unit, "$record", { key: "never", policy: "silent" })).body).toEqual({ message: "OK" });
  });

  it("mustexist answers 404 KEY_NOT_FOUND for a missing key, a missing scope or a deleted one", async () => {
    const unit = await createUnit();
    await addRecord(unit, "raw", { key: "k", content: {}, version: 1 });
    expect((await remove(unit, "raw", { key: "never", policy: "mustexist" })).body.message).toBe("KEY_NOT_FOUND");
    expect((await remove(unit, "$record", { key: "never", policy: "mustexist" })).body.message).toBe("KEY_NOT_FOUND");
    const noScope = await remove(unit, "index", { key: "k", policy: "mustexist" });
    expect(noScope.status).toBe(404);
    expect(noScope.body.message).toBe("KEY_NOT_FOUND");
    expect((await remove(unit, "raw", { key: "k", policy: "mustexist", version: 2 })).status).toBe(200);
    expect((await remove(unit, "raw", { key: "k", policy: "mustexist", version: 3 })).body.message).toBe("KEY_NOT_FOUND");
  });

  it("answers 404 STORAGE_UNIT_DOESNT_EXIST for a unit that was never created", async () => {
    const answer = await remove(uniqueUnit(), "raw", { key: "k" });
    expect(answer.status).toBe(404);
    expect(answer.body.message).toBe("STORAGE_UNIT_DOESNT_EXIST");
  });

  it.each([
    ["body.action", "a missing action", { key: "k" }],
    ["body.action", "an action other than delete", { key: "k", action: "purge" }],
    ["body.key", "a missing key", { action: "delete" }],
    ["body.policy", "an unknown policy", { key: "k", action: "delete", policy: "loud" }],
    ["body.version", "a null version", { key: "k", action: "delete", version: null }],
  ])("answers 400 INVALID_REQUEST naming %s for %s", async (field, _case, body) => {
    const unit = await createUnit();
    const answer = await call("PUT", `/transaction/execute/${unit}/raw`, body);
    expect(answer.status).toBe(400);
    expect(answer.body.message).toBe("INVALID_REQUEST");
    expect(answer.body.detail).toContain(field);
  });
});

describe("transaction/batch", () => {
  it("applies every line and answers OK with the count", async () => {
    const unit = await createUnit();
    const body = ndjson([
      { action: "add", scope: "raw", key: "a", content: { n: 1 } },
      { action: "add", scope: "index", key: "a", content: { n: 2 } },
      { action: "add", scope: "raw", key: "b", content: { n: 3 }, version: 7 },
      { action: "delete", scope: "raw", key: "b", version: 8 },
    ]);
    expect((await call("POST", `/transaction/batch/${unit}`, body)).body).toEqual({ message: "OK", count: 4 });
    expect((await fetchRecord(unit, "a")).body.content).toEqual({ raw: { n: 1 }, index: { n: 2 } });
    expect((await fetchRecord(unit, "b")).status).toBe(404);
  });

  it("applies each line on its own and reports the bad ones with 1-based line numbers", async () => {
    const unit = await createUnit();
    await addRecord(unit, "raw", { key: "exists", content: {}, version: 100 });
    const lines = [
      JSON.stringify({ action: "add", scope: "raw", key: "ok1", content: { n: 1 } }), // 1
      "{not json", // 2
      "", // 3: blank lines are skipped but still counted
      JSON.stringify({ action: "add", scope: "raw", key: "exists", content: {}, policy: "new" }), // 4
      JSON.stringify({ action: "add", scope: "raw", key: "exists", content: {}, version: 1 }), // 5
      JSON.stringify({ action: "delete", scope: "raw", key: "missing", policy: "mustexist" }), // 6
      JSON.stringify({ action: "add", scope: "raw", key: "", content: {} }), // 7
      JSON.stringify({ action: "rename", scope: "raw", key: "x" }), // 8
      JSON.stringify({ action: "add", scope: "raw", key: "big", content: { s: "x".repeat(1024 * 1024) } }), // 9
      JSON.stringify({ action: "add", scope: "raw", key: "ok2", content: { n: 2 } }), // 10
      JSON.stringify({ action: "add", scope: "raw", key: "ok2", content: {}, policy: "new" }), // 11: sees line 10
      JSON.stringify({ action: "delete", scope: "$record", key: "ok1" }), // 12
    ];
    const answer = await call("POST", `/transaction/batch/${unit}`, lines.join("\n"));
    expect(answer.status).toBe(200);
    expect(answer.body.message).toBe("COMPLETED_WITH_ERRORS");
    expect(answer.body.count).toBe(3);
    const errors = answer.body.errors as Array<{ line: number; key?: string; error: string; detail: string }>;
    expect(errors.map((error) => [error.line, error.error])).toEqual([
      [2, "INVALID_REQUEST"],
      [4, "KEY_ALREADY_EXISTS"],
      [5, "NEWER_VERSION_ALREADY_EXISTS"],
      [6, "KEY_NOT_FOUND"],
      [7, "INVALID_REQUEST"],
      [8, "INVALID_REQUEST"],
      [9, "PAYLOAD_TOO_LARGE"],
      [11, "KEY_ALREADY_EXISTS"],
    ]);
    expect(errors.find((error) => error.line === 4)!.key).toBe("exists");
    expect(errors.find((error) => error.line === 2)!.key).toBeUndefined();
    for (const error of errors) expect(error.detail.length).toBeGreaterThan(0);
    expect(errors.find((error) => error.line === 7)!.detail).toContain("line 7.key");
    // the good lines were applied, the bad ones changed nothing
    expect((await fetchRecord(unit, "ok1")).status).toBe(404);
    expect((await fetchRecord(unit, "ok2")).body.content.raw).toEqual({ n: 2 });
    expect((await fetchRecord(unit, "exists")).body.meta.raw.version).toBe(100);
    expect((await fetchRecord(unit, "big")).status).toBe(404);
  });

  it.each(["application/x-ndjson", "application/ndjson", "text/plain", "application/json", "text/plain; charset=utf-8"])(
    "reads the body as NDJSON with content type %s",
    async (type) => {
      const unit = await createUnit();
      const body = ndjson([
        { action: "add", scope: "raw", key: "a", content: {} },
        { action: "add", scope: "raw", key: "b", content: {} },
      ]);
      const answer = await call("POST", `/transaction/batch/${unit}`, body, { headers: { "content-type": type } });
      expect(answer.body).toEqual({ message: "OK", count: 2 });
    },
  );

  it("accepts CRLF line endings and a trailing newline", async () => {
    const unit = await createUnit();
    const body = `${ndjson([
      { action: "add", scope: "raw", key: "a", content: {} },
      { action: "add", scope: "raw", key: "b", content: {} },
    ]).replace("\n", "\r\n")}\r\n`;
    expect((await call("POST", `/transaction/batch/${unit}`, body)).body).toEqual({ message: "OK", count: 2 });
  });

  it("answers 400 for an empty batch", async () => {
    const unit = await createUnit();
    for (const body of ["", "\n\n  \n"]) {
      const answer = await call("POST", `/transaction/batch/${unit}`, body);
      expect(answer.status).toBe(400);
      expect(answer.body.message).toBe("INVALID_REQUEST");
    }
  });

  it("answers 404 STORAGE_UNIT_DOESNT_EXIST for a unit that was never created, whatever its lines", async () => {
    const unit = uniqueUnit();
    const good = await call("POST", `/transaction/batch/${unit}`, ndjson([{ action: "add", scope: "raw", key: "a", content: {} }]));
    expect(good.status).toBe(404);
    expect(good.body.message).toBe("STORAGE_UNIT_DOESNT_EXIST");
    const allBad = await call("POST", `/transaction/batch/${unit}`, '{oops\n{"action":"add"}');
    expect(allBad.status).toBe(404);
    expect(allBad.body.message).toBe("STORAGE_UNIT_DOESNT_EXIST");
  });

  it("applies a batch of 10,000 lines", async () => {
    const unit = await createUnit();
    const lines = Array.from({ length: 10_000 }, (_, i) => ({ action: "add", scope: "raw", key: `k${i}`, content: { i } }));
    expect((await call("POST", `/transaction/batch/${unit}`, ndjson(lines))).body).toEqual({ message: "OK", count: 10_000 });
    const info = await call("GET", `/admin/getStorageUnit/${unit}`);
    expect(info.body.storageUnit.records).toBe(10_000);
    expect((await fetchRecord(unit, "k9999")).body.content.raw).toEqual({ i: 9999 });
  });

  it("refuses 10,001 lines with 413 and applies none of them", async () => {
    const unit = await createUnit();
    const lines = Array.from({ length: 10_001 }, (_, i) => ({ action: "add", scope: "raw", key: `k${i}`, content: {} }));
    const answer = await call("POST", `/transaction/batch/${unit}`, ndjson(lines));
    expect(answer.status).toBe(413);
    expect(answer.body.message).toBe("PAYLOAD_TOO_LARGE");
    expect((await call("GET", `/admin/getStorageUnit/${unit}`)).body.storageUnit.records).toBe(0);
  });

  it("accepts a body of exactly 16 MiB and refuses one byte more with 413", async () => {
    const unit = await createUnit();
    const line = JSON.stringify({ action: "add", scope: "raw", key: "a", content: {} });
    // blank padding counts towards the body size but is not a line
    const padded = (size: number) => `${line}\n${" ".repeat(size - line.length - 1)}`;
    const atLimit = await call("POST", `/transaction/batch/${unit}`, padded(16 * 1024 * 1024));
    expect(atLimit.body).toEqual({ message: "OK", count: 1 });
    const over = await call("POST", `/transaction/batch/${unit}`, padded(16 * 1024 * 1024 + 1));
    expect(over.status).toBe(413);
    expect(over.body.message).toBe("PAYLOAD_TOO_LARGE");
  });

  it("answers 405 for GET", async () => {
    const unit = await createUnit();
    expect((await call("GET", `/transaction/batch/${unit}`)).status).toBe(405);
  });
});

describe("version rule across arrival order", () => {
  it("a delete that arrives before an older add keeps that add out", async () => {
    const unit = await createUnit();
    const del = await call("POST", `/transaction/execute/${unit}/raw`, { key: "late", action: "delete", version: 20 });
    expect(del.status).toBe(200);
    const add = await call("POST", `/transaction/add/${unit}/raw`, { key: "late", content: { v: 10 }, version: 10 });
    expect(add.status).toBe(409);
    expect(add.body.message).toBe("NEWER_VERSION_ALREADY_EXISTS");
    expect((await call("GET", `/access/fetch/${unit}/late`)).status).toBe(404);
    expect((await call("POST", `/transaction/add/${unit}/raw`, { key: "late", content: { v: 30 }, version: 30 })).status).toBe(200);
  });

  it("an overwrite older than another scope of the record is refused and drops nothing", async () => {
    const unit = await createUnit();
    await call("POST", `/transaction/add/${unit}/raw`, { key: "k", content: { a: 1 }, version: 10 });
    await call("POST", `/transaction/add/${unit}/index`, { key: "k", content: { b: 1 }, version: 50 });
    const over = await call("POST", `/transaction/add/${unit}/raw`, { key: "k", content: { a: 2 }, policy: "overwrite", version: 20 });
    expect(over.status).toBe(409);
    expect(over.body.detail).toContain("index");
    const got = await call("GET", `/access/fetch/${unit}/k`);
    expect(got.body.content).toEqual({ raw: { a: 1 }, index: { b: 1 } });
  });
});
