/** The benchmarks' calls: through the Worker's own fetch handler, with the admin token of vitest.bench.config.ts. */
import { exports } from "cloudflare:workers";
import { jsonCaller } from "../test/support/json-call";

/** A call's status, headers and parsed body (test/support/json-call.ts). */
export const call = jsonCaller((request) => exports.default.fetch(request), "https://restage.bench", "bench-admin-token");

/** A call's body, or an error with its status and body: a benchmark stops at the first call that fails. */
export async function api(method: string, path: string, body?: string | object) {
  const answer = await call(method, path, body);
  if (answer.status !== 200) throw new Error(`${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}
