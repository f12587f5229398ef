/**
 * The four seed routes of the Reprocess API in both forms, against a live server: each
 * queues what it says, the job runs the scope's pipeline over it, and `reset` frees the
 * items of a hung batch while the module is still hanging.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { drained, enc, ok, target, uniqueUnit, waitFor, type QueueStatus } from "./client";

const server = target();
const { call } = server;

/** raw → a marker field → the `index` scope: a key's `index` exists once its item ran. */
const MARKING_PIPELINE = {
  modules: {
    raw: [
      { module: "FieldMapping", settings: { set: { stage: "reprocessed" } } },
      { module: "ScopeWriter", settings: { scope: "index" } },
    ],
  },
};

async function processed(unit: string): Promise<number> {
  return (await ok<QueueStatus>(call("GET", `/reprocess/status/${unit}`))).processed;
}

async function indexOf(unit: string, key: string): Promise<Record<string, unknown> | undefined> {
  const answer = await call("GET", `/access/fetch/${unit}/${enc(key)}/index`);
  return answer.status === 200 ? answer.body.content.index : undefined;
}

describe("reprocess routes", () => {
  let unit: string;
  const keys = ["r-1", "r-2", "r-3", "r-4", "x/1"];

  beforeAll(async () => {
    unit = uniqueUnit("seed");
    // content processing off: writes queue nothing, so every item below comes from a reprocess call
    await ok(call("PUT", `/admin/createStorageUnit/${unit}`, { contentProcessing: false, reprocessingQueue: true }));
    await ok(call("POST", `/admin/setContentProcessingModules/${unit}`, MARKING_PIPELINE));
    const lines = keys.map((key, n) => JSON.stringify({ action: "add", scope: "raw", key, content: { n } }));
    expect(await ok(call("POST", `/transaction/batch/${unit}`, lines.join("\n")))).toEqual({ message: "OK", count: keys.length });
    await ok(call("PUT", `/transaction/add/${unit}/other`, { key: "only-other", content: {} }));
  });

  it("reprocess/key runs the pipeline for that one key, by GET and by POST", async () => {
    expect(await indexOf(unit, "r-1")).toBeUndefined();
    const before = await processed(unit);

    expect((await call("GET", `/reprocess/key/${unit}/r-1/raw`)).body).toEqual({ message: "OK" });
    expect((await drained(server, unit)).processed).toBe(before + 1);
    expect(await indexOf(unit, "r-1")).toEqual({ n: 0, stage: "reprocessed" });
    expect(await indexOf(unit, "r-2")).toBeUndefined();

    expect((await call("POST", `/reprocess/key/${unit}/${enc("x/1")}/raw`)).body).toEqual({ message: "OK" });
    expect((await drained(server, unit)).processed).toBe(before + 2);
    expect(await indexOf(unit, "x/1")).toEqual({ n: 4, stage: "reprocessed" });
  });

  it("reprocess/key answers 404 KEY_NOT_FOUND for a key without that scope", async () => {
    expect(await call("GET", `/reprocess/key/${unit}/only-other/raw`)).toMatchObject({ status: 404, body: { message: "KEY_NOT_FOUND" } });
    expect(await call("POST", `/reprocess/key/${unit}/nowhere/raw`)).toMatchObject({ status: 404, body: { message: "KEY_NOT_FOUND" } });
  });

  it("reprocess/keys queues the keys found and lists the missing ones, by GET and by POST", async () => {
    const before = await processed(unit);
    const viaGet = await call("GET", `/reprocess/keys/${unit}/raw?keys=r-2,nope,${enc("x/1")}`);
    expect(viaGet.body).toEqual({ message: "OK", queued: 2, missing: ["nope"] });
    const viaPost = await call("POST", `/reprocess/keys/${unit}/raw`, { keys: ["r-3", "r-3", "gone"] });
    expect(viaPost.body).toEqual({ message: "OK", queued: 1, missing: ["gone"] });
    expect((await drained(server, unit)).processed).toBe(before + 3);
    expect(await indexOf(unit, "r-2")).toEqual({ n: 1, stage: "reprocessed" });
    expect(await indexOf(unit, "r-3")).toEqual({ n: 2, stage: "reprocessed" });
    expect(await indexOf(unit, "r-4")).toBeUndefined();

    expect(await call("GET", `/reprocess/keys/${unit}/raw`)).toMatchObject({ status: 400, body: { message: "INVALID_REQUEST" } });
  });

  it("reprocess/all queues every key of the scope, by GET and by POST, and ?prefix= narrows it", async () => {
    const before = await processed(unit);
    expect((await call("GET", `/reprocess/all/${unit}/raw`)).body).toEqual({ message: "OK", queued: keys.length, runId: expect.any(String) });
    expect((await drained(server, unit)).processed).toBe(before + keys.length);
    for (const key of keys) expect(await indexOf(unit, key)).toMatchObject({ stage: "reprocessed" });

    expect((await call("POST", `/reprocess/all/${unit}/raw?prefix=r-`)).body).toEqual({ message: "OK", queued: 4, runId: expect.any(String) });
    expect((await drained(server, unit)).processed).toBe(before + keys.length + 4);
    // a scope the modules configuration does not name is refused, not a run that finishes at once
    const misspelt = await call("POST", `/reprocess/all/${unit}/nosuchscope`);
    expect(misspelt).toMatchObject({ status: 400, body: { message: "INVALID_REQUEST" } });
    expect(misspelt.body.detail).toContain("scopes with a pipeline: 'raw'");
  });

  it("refuses with 409 REPROCESSING_QUEUE_DISABLED while the queue is disabled", async () => {
    await ok(call("PUT", `/admin/enableReprocessingQueue/${unit}/false`));
    try {
      for (const [method, path] of [
        ["GET", `/reprocess/key/${unit}/r-1/raw`],
        ["POST", `/reprocess/keys/${unit}/raw`],
        ["GET", `/reprocess/all/${unit}/raw`],
      ] as const) {
        const answer = await call(method, path, method === "POST" ? { keys: ["r-1"] } : undefined);
        expect(answer, `${method} ${path}`).toMatchObject({ status: 409, body: { message: "REPROCESSING_QUEUE_DISABLED" } });
      }
    } finally {
      await ok(call("PUT", `/admin/enableReprocessingQueue/${unit}/true`));
    }
  });

  it("reset puts the items of a hung batch back, answering, like status, while the module hangs", async () => {
    const hung = uniqueUnit("hung");
    await ok(call("PUT", `/admin/createStorageUnit/${hung}`, { contentProcessing: false, reprocessingQueue: true }));
    await ok(call("PUT", `/admin/setReprocessingSettings/${hung}`, { leaseMs: 600_000, workers: 1 }));
    await ok(
      call("POST", `/admin/setContentProcessingModules/${hung}`, {
        modules: { raw: [{ module: "Fault", settings: { stallKeys: ["h-1"], stallMs: 120_000 } }] },
      }),
    );
    await ok(call("PUT", `/transaction/add/${hung}/raw`, { key: "h-1", content: {} }));
    try {
      await ok(call("GET", `/reprocess/key/${hung}/h-1/raw`));
      // status keeps answering while the module hangs inside the unit's job
      await waitFor("the stalled item to be assigned", async () => {
        const status = await ok<QueueStatus>(call("GET", `/reprocess/status/${hung}`));
        return status.assigned === 1 ? status : undefined;
      });

      expect((await call("GET", `/reprocess/reset/${hung}`)).body).toEqual({ message: "OK", unassigned: 1 });
      expect(await ok(call("GET", `/reprocess/status/${hung}`))).toMatchObject({ pending: 1, assigned: 0, processed: 0 });
      expect((await call("POST", `/reprocess/reset/${hung}`)).body).toEqual({ message: "OK", unassigned: 0 });
    } finally {
      await ok(call("DELETE", `/admin/deleteStorageUnit/${hung}`));
    }
  });
});
