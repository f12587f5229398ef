/** The self-hosted servers' settings, from environment variables (API.md, "Other"). */
import { shardMaxBytes } from "../unit/capacity";

export interface ServerConfig {
  hostname: string;
  port: number;
  dataDir: string;
}

/**
 * Reads `PORT` (default 8787), `HOST` (default 127.0.0.1) and `RESTAGE_DATA_DIR` (default
 * `./data`), and checks `RESTAGE_SHARD_MAX_BYTES`; throws with the fix when one is malformed.
 */
export function readServerConfig(vars: Record<string, string | undefined>): ServerConfig {
  const port = Number(vars.PORT || "8787");
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be a whole number from 0 to 65535 (0 picks a free port), got '${vars.PORT}'`);
  }
  // read by each unit; checked here too, so a malformed cap stops the server at start, not every write
  shardMaxBytes(vars);
  return { hostname: vars.HOST || "127.0.0.1", port, dataDir: vars.RESTAGE_DATA_DIR || "./data" };
}

/** The process's variables as the Worker's `env` sees its vars and secrets: strings only. */
export function workerVariables(vars: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(vars).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}
