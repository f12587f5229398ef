/**
 * The access path's costs, observed at the bindings: the app runs here over an env whose
 * Durable Object namespaces record every stub they hand out and every call made on one.
 * A token this server never issued reaches no object and has no body read; a real user's
 * request costs one call to its unit (two when it carries a body: the grant is checked
 * before the body is read).
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import type { Env } from "../src/env";
import { createUnit } from "./helpers";
import { createUser, grant, unknownToken } from "./security-helpers";

const app = createApp();
const BASE = "https://restage.test";

/** The env with namespaces that log `getByName`/`get` and each RPC method called on their stubs. */
function recordingEnv(): { env: Env; calls: string[] } {
  const calls: string[] = [];
  const stubOf = (binding: string, stub: object) =>
    new Proxy(stub, {
      get(target, property) {
        const value = Reflect.get(target, property);
        if (typeof property !== "string" || typeof value !== "function") return value;
        return (...args: unknown[]) => {
          calls.push(`${binding}.${property}`);
          // an RPC method's own properties are RPC too: call it through Reflect, not .apply
          return Reflect.apply(value, target, args);
        };
      },
    });
  const namespace = (binding: "STORAGE_UNIT" | "REGISTRY") =>
    new Proxy(env[binding], {
      get(target, property) {
        const value = Reflect.get(target, property);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          calls.push(`${binding}:${String(property)}`);
          const result: unknown = Reflect.apply(value, target, args);
          return property === "get" || property === "getByName" ? stubOf(binding, result as object) : result;
        };
      },
    });
  return { env: { ...env, STORAGE_UNIT: namespace("STORAGE_UNIT"), REGISTRY: namespace("REGISTRY") } as Env, calls };
}

/** A body that counts the bytes anyone pulls from it; pulled only on demand (highWaterMark 0). */
function countingBody(text: string): { body: ReadableStream<Uint8Array>; pulled: () => number } {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const chunk = bytes.subarray(offset, offset + 64 * 1024);
        offset += chunk.byteLength;
        if (chunk.byteLength > 0) controller.enqueue(chunk);
        if (offset >= bytes.byteLength) controller.close();
      },
    },
    { highWaterMark: 0 },
  );
  return { body, pulled: () => offset };
}

async function send(appEnv: Env, method: string, path: string, token: string, body?: BodyInit): Promise<{ status: number; message: string }> {
  const response = await app.fetch(new Request(BASE + path, { method, headers: { authorization: `Bearer ${token}` }, body }), appEnv);
  return { status: response.status, message: ((await response.json()) as { message: string }).message };
}

let unit: string;
let writer: string;
let stranger: string;

beforeAll(async () => {
  unit = await createUnit();
  const [w, s] = await Promise.all([createUser(), createUser()]);
  await grant("w", w.name, unit);
  writer = w.token;
  stranger = s.token;
});

describe("a token this server never issued", () => {
  it("gets 401 in the Worker: no object is reached, whatever unit it names", async () => {
    const recording = recordingEnv();
    for (const token of [unknownToken(), `rs_${"A".repeat(43)}`, writer.slice(0, -1) + (writer.endsWith("A") ? "B" : "A")]) {
      expect(await send(recording.env, "GET", `/reprocess/status/${unit}`, token)).toEqual({ status: 401, message: "UNAUTHORIZED" });
      expect(await send(recording.env, "GET", "/reprocess/status/no-such-unit", token)).toEqual({ status: 401, message: "UNAUTHORIZED" });
      expect(await send(recording.env, "GET", "/admin/listStorageUnits", token)).toEqual({ status: 401, message: "UNAUTHORIZED" });
    }
    expect(recording.calls).toEqual([]);
  });

  it("includes every token issued under another secret: changing TOKEN_SECRET invalidates them all", async () => {
    const recording = recordingEnv();
    const rotated = { ...recording.env, TOKEN_SECRET: "a-new-secret" };
    expect(await send(rotated, "POST", `/reprocess/reset/${unit}`, writer)).toEqual({ status: 401, message: "UNAUTHORIZED" });
    expect(recording.calls).toEqual([]);
  });

  it("has no byte of its body read", async () => {
    const recording = recordingEnv();
    for (const token of [unknownToken(), `rs_${"A".repeat(43)}`]) {
      const big = countingBody(JSON.stringify({ key: "k", content: { text: "x".repeat(4 * 1024 * 1024) } }));
      expect(await send(recording.env, "PUT", `/transaction/add/${unit}/raw`, token, big.body)).toEqual({ status: 401, message: "UNAUTHORIZED" });
      expect(big.pulled()).toBe(0);
    }
    expect(recording.calls).toEqual([]);
  });
});

describe("a real user's token", () => {
  it("costs one call to the unit, and none to the registry", async () => {
    const recording = recordingEnv();
    expect((await send(recording.env, "POST", `/reprocess/reset/${unit}`, writer)).status).toBe(409);
    expect(recording.calls).toEqual(["STORAGE_UNIT:getByName", "STORAGE_UNIT.reset"]);
  });

  it("with a body: the grant is checked before the body is read (one more call)", async () => {
    const recording = recordingEnv();
    const small = countingBody(JSON.stringify({ key: "k", content: { n: 1 } }));
    expect(await send(recording.env, "PUT", `/transaction/add/${unit}/raw`, writer, small.body)).toEqual({ status: 200, message: "OK" });
    expect(small.pulled()).toBeGreaterThan(0);
    expect(recording.calls).toEqual(["STORAGE_UNIT:getByName", "STORAGE_UNIT.checkAccess", "STORAGE_UNIT:getByName", "STORAGE_UNIT.add"]);
  });

  it("without the grant, is refused with 403 before its body is read", async () => {
    const recording = recordingEnv();
    const lines = Array.from({ length: 1000 }, (_, n) =>
      JSON.stringify({ action: "add", scope: "raw", key: `k${n}`, content: { text: "x".repeat(1000) } }),
    ).join("\n");
    for (const [method, path, token] of [
      ["POST", `/transaction/batch/${unit}`, stranger],
      ["PUT", `/transaction/add/${unit}/raw`, stranger],
      ["POST", "/transaction/batch/no-such-unit", writer],
    ] as const) {
      const big = countingBody(lines);
      expect(await send(recording.env, method, path, token, big.body)).toEqual({ status: 403, message: "FORBIDDEN" });
      expect(big.pulled(), `${method} ${path}`).toBe(0);
    }
  });
});
