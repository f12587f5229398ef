/**
 * A self-hosted restage server: the Worker of src/index.ts (its `fetch` and `scheduled`
 * handlers and its Durable Object classes, unchanged) on a runtime adapter. Runs in one
 * process, on one machine: every unit is one instance here, with its SQLite file under
 * RESTAGE_DATA_DIR.
 */
import { fileURLToPath } from "node:url";
import process from "node:process";
import type { Env } from "../env";
import worker, { Registry, StorageUnit } from "../index";
import { log } from "../log";
import { folderAssets } from "./assets";
import { readServerConfig, workerVariables } from "./config";
import { CRON, everyMinute } from "./cron";
import { openDataDir } from "./data-dir";
import { ObjectHost, type ObjectClass } from "./objects";
import type { Platform } from "./platform";

/** How long a shutdown waits for open connections before it closes the files anyway. */
const SHUTDOWN_GRACE_MS = 2_000;

/** The pages' static files: this code runs bundled as dist/selfhost/<runtime>.mjs, whose build fills dist/assets. */
const ASSETS_FOLDER = fileURLToPath(new URL("../assets/", import.meta.url));

/** The entry of a bundle: starts the server, or says why it cannot and exits with 1. */
export async function main(platform: Platform): Promise<void> {
  try {
    await start(platform);
  } catch (error) {
    log("error", "start-failed", { error: error instanceof Error ? error.message : String(error) });
    process.exit(1);
  }
}

/** Starts the server on `platform`; it runs until SIGINT or SIGTERM. */
export async function start(platform: Platform): Promise<void> {
  const config = readServerConfig(process.env);
  const hostDatabase = openDataDir(platform, config.dataDir);
  const host = new ObjectHost({
    platform,
    dataDir: config.dataDir,
    hostDatabase,
    maxLiveObjects: config.maxLiveObjects,
    fileLimit: config.fileLimit,
    // the bindings of wrangler.toml; a module's Workers-only binding (a Queue) is absent here
    classes: { STORAGE_UNIT: StorageUnit as unknown as ObjectClass, REGISTRY: Registry as unknown as ObjectClass },
  });
  const env = { ...workerVariables(process.env), ...host.namespaces, ASSETS: folderAssets(ASSETS_FOLDER) } as unknown as Env;
  host.start(env as unknown as Record<string, unknown>);

  const server = await platform.serve(
    async (request) => worker.fetch(request as Parameters<typeof worker.fetch>[0], env, executionContext()),
    config,
  );
  const cron = everyMinute(async (scheduledTime) => {
    const ctx = executionContext();
    await worker.scheduled({ scheduledTime, cron: CRON, noRetry() {} }, env, ctx);
    await ctx.settled();
  });

  log("info", "listening", {
    runtime: platform.runtime,
    url: `http://${config.hostname}:${server.port}`,
    dataDir: config.dataDir,
    maxLiveObjects: config.maxLiveObjects,
    fileLimit: config.fileLimit ?? null,
  });
  if (!env.ADMIN_TOKEN) log("warn", "no-admin-token", { detail: "ADMIN_TOKEN is not set: every guarded route answers 503 AUTH_NOT_CONFIGURED" });

  // a stray rejection in one unit's background work is logged, as Workers would, not fatal to every unit
  process.on("unhandledRejection", (reason) => log("error", "unhandled-rejection", { error: String(reason) }));

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    cron.stop();
    await Promise.race([server.close(), new Promise((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS))]);
    host.stop();
    hostDatabase.close();
    log("info", "stopped", { signal });
    process.exit(0);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void shutdown(signal));
}

/** The `ctx` of one invocation: `waitUntil` work is logged when it fails; `settled()` waits for all of it. */
function executionContext(): ExecutionContext & { settled(): Promise<void> } {
  const pending: Promise<unknown>[] = [];
  return {
    waitUntil(promise: Promise<unknown>) {
      pending.push(promise.catch((error: unknown) => log("error", "wait-until-failed", { error: String(error) })));
    },
    passThroughOnException() {},
    props: {},
    async settled() {
      await Promise.all(pending);
    },
  } as unknown as ExecutionContext & { settled(): Promise<void> };
}
