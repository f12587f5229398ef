/**
 * Persistence across a crash: a server of the kind under test, killed with SIGKILL while
 * its queue is half done (a batch hung in a module, more items pending), started again on
 * the same data. Every record is still there, the queue drains by itself and every item is
 * processed: nothing is lost. Runs its own server, so it needs RESTAGE_E2E_SERVER.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { clientFor, drained, E2E_SHARDS, ok, waitFor, type QueueStatus } from "./client";
import { launchServer, type ServerHandle } from "./servers";

const { kind, token } = inject("e2e");
/** About 24 keys a shard: each shard of the unit holds more than the one batch that hangs. */
const KEYS = Array.from({ length: 24 * E2E_SHARDS }, (_, n) => `k-${String(n).padStart(3, "0")}`);
const UNIT = "crash";
/** The default lease: the drain after the restart must not wait for it. */
const LEASE_MS = 60_000;
/** From the restarted server's first answer to an empty queue. */
const RECOVERY_MS = 20_000;

describe.skipIf(kind === null)("a restart after SIGKILL", () => {
  const dataDir = mkdtempSync(join(tmpdir(), `restage-e2e-restart-${kind}-`));
  const servers: ServerHandle[] = [];
  const launch = async () => {
    const server = await launchServer(kind!, { dataDir, token });
    servers.push(server);
    return server;
  };

  afterAll(async () => {
    for (const server of servers) await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("keeps records and queue, and the queue drains with nothing lost", async () => {
    const first = await launch();
    const before = clientFor(first.url, token);
    await ok(before.call("PUT", `/admin/createStorageUnit/${UNIT}`, { contentProcessing: true, reprocessingQueue: true }));
    await ok(before.call("PUT", `/admin/setReprocessingSettings/${UNIT}`, { leaseMs: LEASE_MS, workers: 1, batchSize: 4, maxAttempts: 100 }));
    // every batch hangs in Fault far longer than the test, so the queue stays half done
    await ok(
      before.call("POST", `/admin/setContentProcessingModules/${UNIT}`, {
        modules: {
          raw: [
            { module: "Fault", settings: { stallKeys: KEYS, stallMs: 600_000 } },
            { module: "FieldMapping", settings: { set: { mapped: true } } },
            { module: "ScopeWriter", settings: { scope: "index" } },
          ],
        },
      }),
    );
    const lines = KEYS.map((key) => JSON.stringify({ action: "add", scope: "raw", key, content: { key } }));
    expect(await ok(before.call("POST", `/transaction/batch/${UNIT}`, lines.join("\n")))).toEqual({ message: "OK", count: KEYS.length });
    const midQueue = await waitFor("a batch to hang in the module", async () => {
      const status = await ok<QueueStatus>(before.call("GET", `/reprocess/status/${UNIT}`));
      return status.assigned > 0 ? status : undefined;
    });
    expect(midQueue.pending).toBeGreaterThan(0);
    // held, so that nothing is claimed again with the hanging pipeline before it is replaced below
    await ok(before.call("PUT", `/reprocess/pause/${UNIT}`));

    await first.kill();

    const second = await launch();
    const after = clientFor(second.url, token);
    // the claims of the dead process are due again as soon as the unit starts anew, not after their lease
    const restarted = await ok<QueueStatus>(after.call("GET", `/reprocess/status/${UNIT}`));
    expect(restarted).toMatchObject({ assigned: 0, failed: 0, lastError: expect.stringContaining("run died") });
    expect(restarted.pending + restarted.processed).toBe(KEYS.length);
    // the same pipeline without the hang: the items cut off by the crash can now finish
    await ok(
      after.call("POST", `/admin/setContentProcessingModules/${UNIT}`, {
        modules: {
          raw: [
            { module: "FieldMapping", settings: { set: { mapped: true } } },
            { module: "ScopeWriter", settings: { scope: "index" } },
          ],
        },
      }),
    );
    await ok(after.call("PUT", `/reprocess/resume/${UNIT}`));
    const status = await drained(after, UNIT, RECOVERY_MS);
    expect(status.failed).toBe(0);
    expect(status.processed).toBeGreaterThanOrEqual(KEYS.length);
    const { records } = await ok(after.call("POST", `/access/fetchMultiple/${UNIT}`, { keys: KEYS }));
    expect(records.map((record: { key: string }) => record.key)).toEqual(KEYS);
    for (const record of records) expect(record.content).toEqual({ raw: { key: record.key }, index: { key: record.key, mapped: true } });
  });

  it.skipIf(kind === "wrangler")("refuses to start a second server on the same data", async () => {
    const running = servers.at(-1) ?? (await launch());
    await expect(launchServer(running.kind, { dataDir, token })).rejects.toThrow(/in use by another restage server/);
    // the first one is unharmed
    expect((await clientFor(running.url, token).call("GET", "/health")).status).toBe(200);
  });
});
