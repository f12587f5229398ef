/**
 * Answers that depend on the runtime, as a self-hosted Node server gives them: how to set
 * ADMIN_TOKEN there (an environment variable, not `wrangler secret put`), and what a
 * publisher's refused connection is called (Node tells a refusal apart; Workers cannot).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { networkFailure } from "../../src/modules/network-failure";
import { launchServer, type ServerHandle } from "../e2e/servers";

describe("a self-hosted Node server without ADMIN_TOKEN", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "restage-no-token-"));
  let server: ServerHandle | undefined;

  afterAll(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("answers 503 AUTH_NOT_CONFIGURED saying to set the ADMIN_TOKEN environment variable, not a wrangler secret", async () => {
    server = await launchServer("node", { dataDir, token: "" });
    const response = await fetch(`${server.url}/admin/listStorageUnits`, { headers: { authorization: "Bearer anything" } });
    expect(response.status).toBe(503);
    const body = (await response.json()) as { message: string; detail: string };
    expect(body.message).toBe("AUTH_NOT_CONFIGURED");
    expect(body.detail).toContain("set the ADMIN_TOKEN environment variable of the server process and restart it");
    expect(body.detail).not.toContain("wrangler");
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });
});

describe("a publisher's request that gets no answer, on Node", () => {
  it("is called a refused connection, with the URL and what to check", async () => {
    const origin = `http://127.0.0.1:${await closedPort()}`;
    const error = await fetch(`${origin}/bulk`, { method: "POST" }).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeDefined();
    expect(networkFailure(`POST ${origin}/bulk`, origin, error)).toBe(
      `POST ${origin}/bulk: the connection was refused: nothing listens at ${origin}; check settings.url and that the endpoint is running and reachable from this server`,
    );
  });

  it("says when fetch refuses the port itself", async () => {
    // port 1 is on the Fetch standard's list of blocked ports: Node refuses it before connecting
    const error = await fetch("http://127.0.0.1:1/bulk").then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(networkFailure("POST http://127.0.0.1:1/bulk", "http://127.0.0.1:1", error)).toContain("fetch refuses the port of http://127.0.0.1:1");
  });

  it("names a host that does not resolve", async () => {
    const error = await fetch("http://no-such-host.invalid/bulk").then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(networkFailure("POST http://no-such-host.invalid/bulk", "http://no-such-host.invalid", error)).toContain(
      "the host name of http://no-such-host.invalid does not resolve",
    );
  });
});

/** A port nothing listens on: one the system just gave out and took back. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
