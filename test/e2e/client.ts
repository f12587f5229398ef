/** HTTP helpers for the end-to-end suite: requests to the server under test, and waiting on the queue. */
import { inject } from "vitest";
import type { UnitStatus } from "../../src/unit/answers";
import { jsonCaller, type Answer, type CallOptions } from "../support/json-call";

/** A request that takes longer has hung: the suite fails it rather than wait for the test's own timeout. */
const REQUEST_TIMEOUT_MS = 15_000;

export type { Answer } from "../support/json-call";

export interface Client {
  readonly url: string;
  /** Sends a request with the admin token (or `token`, or none with null); objects go as JSON, strings as they are. */
  call<T = Record<string, any>>(method: string, path: string, body?: unknown, options?: CallOptions): Promise<Answer<T>>;
}

/** A client for the server the suite was started against (see global-setup.ts). */
export function target(): Client & { token: string } {
  const { url, token } = inject("e2e");
  return { ...clientFor(url, token), token };
}

/**
 * The shards of every unit the suite creates (RESTAGE_E2E_SHARDS, default 8): the suite runs
 * on sharded units, so every route is proven across shards on every server. A test that
 * names `shards` in its createStorageUnit body keeps its own count.
 */
export const E2E_SHARDS = Number(process.env.RESTAGE_E2E_SHARDS ?? 8);

export function clientFor(url: string, adminToken: string): Client {
  const send = (request: Request) => fetch(request, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const call = jsonCaller(send, url, adminToken);
  return {
    url,
    call: (method, path, body, options) =>
      call(method, path, method === "PUT" && path.startsWith("/admin/createStorageUnit/") ? withShards(body) : body, options),
  };
}

function withShards(body: unknown): unknown {
  if (body === undefined) return { shards: E2E_SHARDS };
  return typeof body === "object" && body !== null && !Array.isArray(body) && !("shards" in body) ? { ...body, shards: E2E_SHARDS } : body;
}

/** Answers with the body, failing the test with the server's words unless the status is 200. */
export async function ok<T = Record<string, any>>(answer: Promise<Answer<T>>): Promise<T> {
  const { status, body } = await answer;
  if (status !== 200) throw new Error(`expected 200, got ${status}: ${JSON.stringify(body)}`);
  return body;
}

let counter = 0;
/** A unit name no other test (or earlier run on the same data) uses. */
export function uniqueUnit(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
}

export const enc = encodeURIComponent;

/**
 * Polls `check` until it returns a value other than undefined; fails with `what` and the
 * last value seen when `timeoutMs` passes. A bound on waiting, not a timed assertion.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${timeoutMs} ms${last ? `: ${String(last)}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export type QueueStatus = UnitStatus;

/** Waits until the unit's queue is empty (nothing pending, assigned or being filled); returns the status. */
export function drained(client: Client, unit: string, timeoutMs = 30_000): Promise<QueueStatus> {
  return waitFor(
    `the queue of '${unit}' to drain`,
    async () => {
      const status = await ok<QueueStatus>(client.call("GET", `/reprocess/status/${unit}`));
      return status.pending === 0 && status.assigned === 0 && !status.filling ? status : undefined;
    },
    timeoutMs,
  );
}
