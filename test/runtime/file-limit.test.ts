/**
 * A self-hosted Node server at a low file limit (`ulimit -n`) with units of 256 shards:
 * creates, a batch, pages, statuses and `/metrics` scrapes. It stays up, and every answer is
 * a success or 503 `OVERLOADED` with `Retry-After` and a detail naming what ran out; never
 * a 500. Once with the cap on live objects drawn from the limit (nothing runs out), once
 * with a cap far above what the limit allows (the opens themselves fail, are refused, and
 * the server lowers its cap).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { launchServer, type ServerHandle } from "../e2e/servers";

const TOKEN = "file-limit-token";
const SHARDS = 256;
const RECORDS = 2_000;
/** Tries of one request that is refused OVERLOADED, Retry-After apart. */
const TRIES = 10;

interface Seen {
  status: number;
  message?: string;
  detail?: string;
  retryAfter: string | null;
}

const servers: ServerHandle[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function launch(fileLimit: number, vars: Record<string, string> = {}): Promise<ServerHandle> {
  const dataDir = mkdtempSync(join(tmpdir(), "restage-file-limit-"));
  dirs.push(dataDir);
  const server = await launchServer("node", { dataDir, token: TOKEN, fileLimit, vars });
  servers.push(server);
  return server;
}

/** Drives a server through the calls that opened the most files, noting every answer. */
async function exercise(server: ServerHandle): Promise<{ seen: Seen[]; last: Map<string, Seen & { body: unknown }> }> {
  const seen: Seen[] = [];
  const last = new Map<string, Seen & { body: unknown }>();
  const call = async (name: string, method: string, path: string, body?: string) => {
    for (let attempt = 1; ; attempt++) {
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body,
      });
      const text = await response.text();
      const parsed = response.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text;
      const answer = { status: response.status, message: parsed?.message, detail: parsed?.detail, retryAfter: response.headers.get("retry-after") };
      seen.push(answer);
      last.set(name, { ...answer, body: parsed });
      if (response.status !== 503 || attempt >= TRIES) return;
      await new Promise((resolve) => setTimeout(resolve, Number(answer.retryAfter ?? 1) * 1000));
    }
  };
  const create = JSON.stringify({ reprocessingQueue: true, contentProcessing: false, shards: SHARDS });
  await call("create a", "PUT", "/admin/createStorageUnit/wide-a", create);
  await call("create b", "PUT", "/admin/createStorageUnit/wide-b", create);
  const lines = Array.from({ length: RECORDS }, (_, n) => JSON.stringify({ action: "add", scope: "raw", key: `k${n}`, content: { n } }));
  await call("batch", "POST", "/transaction/batch/wide-a", lines.join("\n"));
  await call("metrics", "GET", "/metrics");
  await call("page", "GET", "/access/fetchPage/wide-a?batchSize=500");
  await Promise.all([
    call("status a", "GET", "/reprocess/status/wide-a"),
    call("status b", "GET", "/reprocess/status/wide-b"),
    call("metrics again", "GET", "/metrics"),
  ]);
  return { seen, last };
}

function expectOnlySuccessOrOverloaded(seen: Seen[]): void {
  for (const answer of seen) {
    if (answer.status === 200) continue;
    expect(answer).toMatchObject({ status: 503, message: "OVERLOADED", retryAfter: expect.stringMatching(/^\d+$/) });
    expect(answer.detail).toMatch(/open files|storage objects in memory/);
  }
}

async function expectAlive(server: ServerHandle): Promise<void> {
  expect((await fetch(`${server.url}/health`)).status).toBe(200);
  expect(server.output()).not.toMatch(/"event":"unhandled"|Uncaught|FATAL/);
}

describe("a self-hosted server at its file limit", () => {
  it("keeps within the limit with the cap it draws from it: every call succeeds", { timeout: 300_000 }, async () => {
    // half of 400 files for objects, 3 each: 66 live at most, where one unit has 256 shards
    const server = await launch(400);
    const { seen, last } = await exercise(server);
    expectOnlySuccessOrOverloaded(seen);
    for (const name of ["create a", "create b", "batch", "metrics", "page", "status a", "status b", "metrics again"]) {
      expect(last.get(name), name).toMatchObject({ status: 200 });
    }
    expect(last.get("batch")!.body).toEqual({ message: "OK", count: RECORDS });
    expect((last.get("page")!.body as { records: unknown[] }).records).toHaveLength(500);
    expect(last.get("metrics again")!.body).toMatch(/restage_records\{unit="wide-a"\} 2000/);
    await expectAlive(server);
  });

  it("with a cap the limit cannot hold, refuses what it cannot open with 503 OVERLOADED naming the open files, and stays up", {
    timeout: 300_000,
  }, async () => {
    const server = await launch(300, { RESTAGE_MAX_LIVE_OBJECTS: "5000" });
    const { seen } = await exercise(server);
    expectOnlySuccessOrOverloaded(seen);
    expect(seen.some((answer) => answer.status === 503 && /at its limit of 300 open files/.test(answer.detail ?? ""))).toBe(true);
    // the cap fell to what the limit held, so later fan-outs leave files for connections
    expect(server.output()).toMatch(/"event":"live-objects-cap-lowered","from":5000,"to":\d+/);
    await expectAlive(server);
  });
});
