/**
 * transaction/batch sends its lines to the unit in several calls; when a later call fails,
 * the lines already applied stay applied and the answer says which lines were not.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { StorageUnit } from "../src/unit/storage-unit";
import { call, createUnit, ndjson } from "./helpers";
import { captureLogs } from "./support/logs";

/** Enough lines for two calls to the unit (500 lines a call). */
const LINES = 501;
const lines = () => Array.from({ length: LINES }, (_, index) => ({ action: "add", scope: "raw", key: `k${index}`, content: { index } }));

/** Lets the first call to StorageUnit.batch through and answers the later ones with `later`. */
function failLaterCalls(later: (...args: Parameters<StorageUnit["batch"]>) => ReturnType<StorageUnit["batch"]>) {
  const original = StorageUnit.prototype.batch;
  let calls = 0;
  vi.spyOn(StorageUnit.prototype, "batch").mockImplementation(function (this: StorageUnit, ...args) {
    return calls++ === 0 ? original.apply(this, args) : later.apply(this, args);
  });
}

const fetchPage = (unit: string) => call("GET", `/access/fetchPage/${unit}?batchSize=1000`);

afterEach(() => {
  vi.restoreAllMocks();
});

describe("transaction/batch with a failing later call", () => {
  it("reports the lines of a call that threw as INTERNAL_ERROR (no stack) and counts the applied ones", async () => {
    const unit = await createUnit();
    const logs = captureLogs();
    failLaterCalls(async () => {
      throw new Error("disk on fire at storage-unit.ts:123");
    });
    const answer = await call("POST", `/transaction/batch/${unit}`, ndjson(lines()));
    expect(answer.status).toBe(200);
    expect(answer.body.message).toBe("COMPLETED_WITH_ERRORS");
    expect(answer.body.count).toBe(500);
    expect(answer.body.errors).toHaveLength(1);
    expect(answer.body.errors[0]).toMatchObject({ line: 501, key: "k500", error: "INTERNAL_ERROR" });
    expect(answer.body.errors[0].detail).not.toMatch(/disk on fire|storage-unit\.ts|\n\s+at /);
    expect((await fetchPage(unit)).body.records).toHaveLength(500);
    // the operator sees what the client does not
    expect(logs.of("batch-call-failed")).toEqual([expect.objectContaining({ unit, error: expect.stringContaining("disk on fire") })]);
  });

  it("reports the unit's failure code for the lines of a call the unit refused (deleted mid-batch)", async () => {
    const unit = await createUnit();
    failLaterCalls(async () => ({
      error: "STORAGE_UNIT_DOESNT_EXIST",
      detail: "no such storage unit; create it with PUT /admin/createStorageUnit/<unit>",
    }));
    const answer = await call("POST", `/transaction/batch/${unit}`, ndjson(lines()));
    expect(answer.body).toMatchObject({ message: "COMPLETED_WITH_ERRORS", count: 500 });
    expect(answer.body.errors).toEqual([
      { line: 501, key: "k500", error: "STORAGE_UNIT_DOESNT_EXIST", detail: expect.stringContaining("no such storage unit") },
    ]);
  });

  it("reports OVERLOADED for the lines of a call the overloaded unit refused", async () => {
    const unit = await createUnit();
    failLaterCalls(async () => {
      throw Object.assign(new Error("Durable Object is overloaded"), { overloaded: true });
    });
    const answer = await call("POST", `/transaction/batch/${unit}`, ndjson(lines()));
    expect(answer.body).toMatchObject({ message: "COMPLETED_WITH_ERRORS", count: 500 });
    expect(answer.body.errors).toEqual([{ line: 501, key: "k500", error: "OVERLOADED", detail: expect.stringContaining("send it again") }]);
  });

  it("keeps the lines' own errors of the applied calls next to the lines of the failed call", async () => {
    const unit = await createUnit();
    const body = lines();
    body[3] = { action: "delete", scope: "raw", key: "missing", policy: "mustexist" } as never;
    const logs = captureLogs();
    failLaterCalls(async () => {
      throw new Error("boom");
    });
    const answer = await call("POST", `/transaction/batch/${unit}`, ndjson(body));
    expect(answer.body.count).toBe(499);
    expect(answer.body.errors.map((error: { line: number; error: string }) => [error.line, error.error])).toEqual([
      [4, "KEY_NOT_FOUND"],
      [501, "INTERNAL_ERROR"],
    ]);
    expect(logs.of("batch-call-failed")).toEqual([expect.objectContaining({ error: "Error: boom" })]);
  });

  it("answers as for a single call when the first call fails with nothing applied", async () => {
    const unit = await createUnit();
    vi.spyOn(StorageUnit.prototype, "batch").mockImplementation(async () => {
      throw Object.assign(new Error("Durable Object is overloaded"), { overloaded: true });
    });
    const answer = await call("POST", `/transaction/batch/${unit}`, ndjson(lines()));
    expect(answer.status).toBe(503);
    expect(answer.body.message).toBe("OVERLOADED");
    expect(answer.headers.get("retry-after")).toBe("1");
  });

  it("answers 404 for a unit that does not exist", async () => {
    const answer = await call("POST", `/transaction/batch/no-such-unit-${Date.now()}`, ndjson(lines()));
    expect(answer.status).toBe(404);
    expect(answer.body.message).toBe("STORAGE_UNIT_DOESNT_EXIST");
  });
});
