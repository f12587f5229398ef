/**
 * 507 STORAGE_FULL on a real server (API.md, "Sharded storage units"): a server of the
 * kind under test, started with RESTAGE_SHARD_MAX_BYTES, refuses the write that does not
 * fit with nothing of it applied, keeps serving reads and status, accepts deletes, and
 * stores again once they made room; its keys all live on one shard of the suite's units. Runs
 * its own server, so it needs RESTAGE_E2E_SERVER.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { shardOf } from "../../src/shards/placement";
import { clientFor, E2E_SHARDS, ok } from "./client";
import { launchServer, type ServerHandle } from "./servers";

const { kind, token } = inject("e2e");
const CAP = 512 * 1024;
const UNIT = "full";
/** `count` keys `<prefix><n>` that all live on shard 0 of the suite's units: one shard is what fills. */
const onShard0 = (prefix: string, count: number) =>
  Array.from({ length: count * E2E_SHARDS * 4 }, (_, n) => `${prefix}${String(n).padStart(3, "0")}`)
    .filter((key) => shardOf(key, E2E_SHARDS, {}) === 0)
    .slice(0, count);

describe.skipIf(kind === null)("a server with RESTAGE_SHARD_MAX_BYTES", () => {
  const dataDir = mkdtempSync(join(tmpdir(), `restage-e2e-full-${kind}-`));
  let server: ServerHandle | undefined;

  afterAll(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("refuses what a shard cannot store with 507, applies nothing of it, and stores again after deletes", async () => {
    server = await launchServer(kind!, { dataDir, token, vars: { RESTAGE_SHARD_MAX_BYTES: String(CAP) } });
    const api = clientFor(server.url, token);
    await ok(api.call("PUT", `/admin/createStorageUnit/${UNIT}`, { contentProcessing: true, reprocessingQueue: true }));
    // an empty pipeline: reprocess/all accepts the scope, and writes queue nothing
    await ok(api.call("POST", `/admin/setContentProcessingModules/${UNIT}`, { modules: { raw: [] } }));
    const keys = onShard0("k", 20);
    const [late] = onShard0("late", 1) as [string];
    const lines = keys.map((key) => JSON.stringify({ action: "add", scope: "raw", key, content: { text: "x".repeat(40_000) } }));
    const batch = await ok(api.call("POST", `/transaction/batch/${UNIT}`, lines.join("\n")));
    expect(batch.message).toBe("COMPLETED_WITH_ERRORS");
    const applied: number = batch.count;
    expect(applied).toBeGreaterThan(5);
    expect(batch.errors).toHaveLength(lines.length - applied);
    expect(new Set(batch.errors.map((error: { error: string }) => error.error))).toEqual(new Set(["STORAGE_FULL"]));

    const refused = await api.call("PUT", `/transaction/add/${UNIT}/raw`, { key: late, content: { text: "x".repeat(40_000) } });
    expect(refused.status).toBe(507);
    expect(refused.body).toEqual({ message: "STORAGE_FULL", detail: expect.stringContaining(`of the ${CAP} that RESTAGE_SHARD_MAX_BYTES allows`) });
    expect((await api.call("GET", `/access/fetch/${UNIT}/${late}`)).status).toBe(404);
    expect((await ok(api.call("GET", `/admin/getStorageUnit/${UNIT}`))).storageUnit).toMatchObject({ records: applied });
    expect((await api.call("GET", `/reprocess/status/${UNIT}`)).status).toBe(200);
    expect((await api.call("POST", `/reprocess/all/${UNIT}/raw`)).status).toBe(200);

    await ok(api.call("POST", `/transaction/execute/${UNIT}/$record`, { key: keys[0], action: "delete" }));
    await ok(api.call("POST", `/transaction/execute/${UNIT}/$record`, { key: keys[1], action: "delete" }));
    await ok(api.call("PUT", `/transaction/add/${UNIT}/raw`, { key: late, content: { text: "x".repeat(40_000) } }));
    expect((await ok(api.call("GET", `/access/fetch/${UNIT}/${late}/raw`))).content.raw.text).toHaveLength(40_000);
  });
});
