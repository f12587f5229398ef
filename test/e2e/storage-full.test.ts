/**
 * 507 STORAGE_FULL on a real server (API.md, "Sharded storage units"): a server of the
 * kind under test, started with RESTAGE_SHARD_MAX_BYTES, refuses the write that does not
 * fit with nothing of it applied, keeps serving reads and status, accepts deletes, and
 * stores again once they made room. Which shard a key lives on depends on the unit's
 * secret placement seed, so the test sends twice what the shards can hold and works with
 * the keys the server refused. Runs its own server, so it needs RESTAGE_E2E_SERVER.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { clientFor, E2E_SHARDS, ok } from "./client";
import { launchServer, type ServerHandle } from "./servers";

const { kind, token } = inject("e2e");
const CAP = 512 * 1024;
const UNIT = "full";
const RECORD = 40_000;
/** Twice the records the unit's shards can hold: whatever the seed, some shard fills. */
const KEYS = Array.from({ length: 2 * E2E_SHARDS * Math.ceil(CAP / RECORD) }, (_, n) => `k${String(n).padStart(3, "0")}`);
const big = () => ({ text: "x".repeat(RECORD) });

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
    const lines = KEYS.map((key) => JSON.stringify({ action: "add", scope: "raw", key, content: big() }));
    const batch = await ok(api.call("POST", `/transaction/batch/${UNIT}`, lines.join("\n")));
    expect(batch.message).toBe("COMPLETED_WITH_ERRORS");
    const applied: number = batch.count;
    expect(applied).toBeGreaterThan(5);
    expect(batch.errors).toHaveLength(lines.length - applied);
    expect(new Set(batch.errors.map((error: { error: string }) => error.error))).toEqual(new Set(["STORAGE_FULL"]));
    const refusedKeys: string[] = batch.errors.map((error: { key: string }) => error.key);
    const stored = KEYS.filter((key) => !refusedKeys.includes(key));
    const late = refusedKeys[0]!;

    // the key's shard is still full: refused alone too, and nothing of it stored
    const refused = await api.call("PUT", `/transaction/add/${UNIT}/raw`, { key: late, content: big() });
    expect(refused.status).toBe(507);
    expect(refused.body).toEqual({ message: "STORAGE_FULL", detail: expect.stringContaining(`of the ${CAP} that RESTAGE_SHARD_MAX_BYTES allows`) });
    expect((await api.call("GET", `/access/fetch/${UNIT}/${late}`)).status).toBe(404);
    expect((await ok(api.call("GET", `/admin/getStorageUnit/${UNIT}`))).storageUnit).toMatchObject({ records: applied });
    expect((await api.call("GET", `/reprocess/status/${UNIT}`)).status).toBe(200);
    expect((await api.call("POST", `/reprocess/all/${UNIT}/raw`)).status).toBe(200);

    // deletes are accepted on full shards, and make room there
    const deletes = stored.map((key) => JSON.stringify({ action: "delete", scope: "$record", key }));
    expect(await ok(api.call("POST", `/transaction/batch/${UNIT}`, deletes.join("\n")))).toEqual({ message: "OK", count: stored.length });
    await ok(api.call("PUT", `/transaction/add/${UNIT}/raw`, { key: late, content: big() }));
    expect((await ok(api.call("GET", `/access/fetch/${UNIT}/${late}/raw`))).content.raw.text).toHaveLength(RECORD);
  });
});
