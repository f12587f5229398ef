/**
 * `cloudflare:workers` as the tests of the `shards` project see it in plain Node
 * (vitest.e2e.config.ts): the Worker (src/index.ts, the real Hono app) and its Durable
 * Object classes on the self-hosted host over in-memory SQLite, with the bindings the
 * Workers-runtime suite gives (vitest.config.ts). The app's own code gets the host's shim
 * for this module, as the self-hosted bundles do.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Env } from "../../src/env";
import worker, { Registry, StorageUnit } from "../../src/index";
import type { ObjectClass } from "../../src/runtime/objects";
import { MemoryDisk } from "../sim/memory-disk";
import { TestHost } from "./node-host";

const disk = new MemoryDisk();

export const host = new TestHost({
  platform: disk.platform,
  dataDir: mkdtempSync(join(tmpdir(), "restage-shards-")),
  hostDatabase: disk.platform.openDatabase(":memory:"),
  classes: { STORAGE_UNIT: StorageUnit as unknown as ObjectClass, REGISTRY: Registry as unknown as ObjectClass },
});

export const env = {
  ADMIN_TOKEN: "test-admin-token",
  RESTAGE_TEST_MODULES: "true",
  RESTAGE_RECORDER_MAX_CALLS: "100000",
  ...host.namespaces,
} as unknown as Env;

host.start(env as unknown as Record<string, unknown>);

/** Work a request leaves running (`waitUntil`), as the runtime keeps it going. */
function executionContext(): ExecutionContext {
  return {
    waitUntil: (promise: Promise<unknown>) => void promise.catch(() => {}),
    passThroughOnException() {},
    props: {},
  } as unknown as ExecutionContext;
}

export const exports = {
  default: { fetch: (request: Request) => worker.fetch(request as never, env, executionContext()) },
};
