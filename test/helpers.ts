/** Shared helpers for tests in the Workers runtime: authenticated requests and unit set-up. */
import { env, exports } from "cloudflare:workers";

export const ADMIN_TOKEN = "test-admin-token";
const BASE = "https://restage.test";

export interface Answer<T = Record<string, any>> {
  status: number;
  body: T;
  headers: Headers;
}

/** Sends a request through the Worker's fetch handler; JSON bodies are serialised, strings sent as they are. */
export async function call<T = Record<string, any>>(
  method: string,
  path: string,
  body?: unknown,
  options: { token?: string | null; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? ADMIN_TOKEN : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let payload: BodyInit | undefined;
  if (typeof body === "string" || body instanceof Uint8Array) payload = body as BodyInit;
  else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["content-type"] ??= "application/json";
  }
  const response = await exports.default.fetch(new Request(BASE + path, { method, headers, body: payload }));
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: leave the text for the test to look at
  }
  return { status: response.status, body: parsed as T, headers: response.headers };
}

let counter = 0;
/** A fresh unit name per test, so tests never see each other's data. */
export function uniqueUnit(prefix = "u"): string {
  return `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
}

export async function createUnit(options: { contentProcessing?: boolean; reprocessingQueue?: boolean } = {}, name = uniqueUnit()): Promise<string> {
  const answer = await call("PUT", `/admin/createStorageUnit/${name}`, options);
  if (answer.status !== 200) throw new Error(`createStorageUnit failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  return name;
}

export function unitStub(name: string) {
  return env.STORAGE_UNIT.get(env.STORAGE_UNIT.idFromName(name));
}

export const enc = encodeURIComponent;

/** Writes one scope of a record through `transaction/add`, failing the test unless it was accepted. */
export async function addRecord(unit: string, scope: string, body: { key: string; content: Record<string, unknown>; policy?: string; version?: number }): Promise<void> {
  const answer = await call("PUT", `/transaction/add/${unit}/${scope}`, body);
  if (answer.status !== 200) throw new Error(`add failed: ${answer.status} ${JSON.stringify(answer.body)}`);
}

/** NDJSON text for `transaction/batch`: one JSON value a line. */
export function ndjson(lines: unknown[]): string {
  return lines.map((line) => JSON.stringify(line)).join("\n");
}
