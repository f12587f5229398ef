/**
 * Starts the server the suite runs against, chosen by environment:
 * - `RESTAGE_E2E_SERVER=wrangler|node|bun|deno`: a fresh server of that kind on a free port
 *   over a temporary data folder, stopped after the run;
 * - or `RESTAGE_E2E_URL` (+ `RESTAGE_E2E_TOKEN`): a server already running elsewhere; the
 *   restart tests need a server of their own and are skipped then.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { isServerKind, launchServer, SERVER_KINDS, type ServerKind } from "./servers";

export interface E2eTarget {
  url: string;
  token: string;
  /** the kind of server, when the suite started it (restart tests start their own of that kind) */
  kind: ServerKind | null;
  /** the server's data folder, when the suite started it */
  dataDir: string | null;
}

declare module "vitest" {
  interface ProvidedContext {
    e2e: E2eTarget;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const url = process.env.RESTAGE_E2E_URL;
  if (url) {
    project.provide("e2e", { url: url.replace(/\/$/, ""), token: process.env.RESTAGE_E2E_TOKEN ?? "", kind: null, dataDir: null });
    return async () => {};
  }
  const kind = process.env.RESTAGE_E2E_SERVER ?? "";
  if (!isServerKind(kind))
    throw new Error(`set RESTAGE_E2E_SERVER to one of ${SERVER_KINDS.join(", ")} (or RESTAGE_E2E_URL to a running server); got '${kind}'`);
  const dataDir = mkdtempSync(join(tmpdir(), `restage-e2e-${kind}-`));
  const token = `e2e-${Math.random().toString(36).slice(2)}`;
  const server = await launchServer(kind, { dataDir, token });
  project.provide("e2e", { url: server.url, token, kind, dataDir });
  return async () => {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
}
