/** The self-hosted servers' settings, from environment variables (API.md, "Other"). */
import { shardMaxBytes } from "../unit/capacity";
import { defaultMaxLiveObjects, openFileLimit } from "./open-files";

export interface ServerConfig {
  hostname: string;
  port: number;
  dataDir: string;
  /** objects in memory at once, each with its files open (./objects.ts) */
  maxLiveObjects: number;
  /** the process's limit of open files, when known */
  fileLimit?: number;
}

/**
 * Reads `PORT` (default 8787), `HOST` (default 127.0.0.1), `RESTAGE_DATA_DIR` (default
 * `./data`) and `RESTAGE_MAX_LIVE_OBJECTS` (default: drawn from the file limit, ./open-files.ts),
 * and checks `RESTAGE_SHARD_MAX_BYTES`; throws with the fix when one is malformed.
 */
export function readServerConfig(vars: Record<string, string | undefined>, fileLimit = openFileLimit()): ServerConfig {
  const port = Number(vars.PORT || "8787");
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be a whole number from 0 to 65535 (0 picks a free port), got '${vars.PORT}'`);
  }
  // read by each unit; checked here too, so a malformed cap stops the server at start, not every write
  shardMaxBytes(vars);
  const maxLiveObjects = vars.RESTAGE_MAX_LIVE_OBJECTS ? Number(vars.RESTAGE_MAX_LIVE_OBJECTS) : defaultMaxLiveObjects(fileLimit);
  if (!Number.isInteger(maxLiveObjects) || maxLiveObjects < 1) {
    throw new Error(
      `RESTAGE_MAX_LIVE_OBJECTS must be a whole number of at least 1 (objects in memory at once, 3 open files each), got '${vars.RESTAGE_MAX_LIVE_OBJECTS}'`,
    );
  }
  return {
    hostname: vars.HOST || "127.0.0.1",
    port,
    dataDir: vars.RESTAGE_DATA_DIR || "./data",
    maxLiveObjects,
    ...(fileLimit === undefined || !Number.isFinite(fileLimit) ? {} : { fileLimit }),
  };
}

/** The process's variables as the Worker's `env` sees its vars and secrets: strings only. */
export function workerVariables(vars: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(vars).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}
