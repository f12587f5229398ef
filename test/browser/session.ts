/**
 * What every browser test needs: Debian's chromium (CHROMIUM_PATH overrides /usr/bin/chromium)
 * and a self-hosted Node server on a fresh data folder, both stopped and removed after.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { launchServer, type ServerHandle } from "../e2e/servers";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export interface BrowserSession {
  server: ServerHandle;
  browser: Browser;
  stop(): Promise<void>;
}

/** A server with `token` as its admin token, and a browser to look at it. */
export async function startBrowserSession(token: string, name: string): Promise<BrowserSession> {
  if (!existsSync(CHROMIUM))
    throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`);
  const dataDir = mkdtempSync(join(tmpdir(), `restage-${name}-`));
  const server = await launchServer("node", { dataDir, token });
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  return {
    server,
    browser,
    async stop() {
      await browser.close();
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
