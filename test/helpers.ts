/** Shared helpers for tests in the Workers runtime: authenticated requests and unit set-up. */
import { env, exports } from "cloudflare:workers";
import { jsonCaller } from "./support/json-call";

export const ADMIN_TOKEN = "test-admin-token";
const BASE = "https://restage.test";

export type { Answer } from "./support/json-call";

/** Sends a request through the Worker's fetch handler, with the admin token unless told otherwise. */
export const call = jsonCaller((request) => exports.default.fetch(request), BASE, ADMIN_TOKEN);

let counter = 0;
/** A fresh unit name per test, so tests never see each other's data. */
export function uniqueUnit(prefix = "u"): string {
  return `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
}

export async function createUnit(
  options: { contentProcessing?: boolean; reprocessingQueue?: boolean; shards?: number } = {},
  name = uniqueUnit(),
): Promise<string> {
  const answer = await call("PUT", `/admin/createStorageUnit/${name}`, options);
  if (answer.status !== 200) throw new Error(`createStorageUnit failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  return name;
}

export function unitStub(name: string) {
  return env.STORAGE_UNIT.get(env.STORAGE_UNIT.idFromName(name));
}

export const enc = encodeURIComponent;

/** Writes one scope of a record through `transaction/add`, failing the test unless it was accepted. */
export async function addRecord(
  unit: string,
  scope: string,
  body: { key: string; content: Record<string, unknown>; policy?: string; version?: number },
): Promise<void> {
  const answer = await call("PUT", `/transaction/add/${unit}/${scope}`, body);
  if (answer.status !== 200) throw new Error(`add failed: ${answer.status} ${JSON.stringify(answer.body)}`);
}

/** NDJSON text for `transaction/batch`: one JSON value a line. */
export function ndjson(lines: unknown[]): string {
  return lines.map((line) => JSON.stringify(line)).join("\n");
}
