/**
 * Every route of the OpenAPI document × every kind of caller, with the status each must get.
 * The route list comes from /openapi.json, so a new route is covered as soon as it exists;
 * which access it needs comes from API.md's rules below (a route no rule matches fails).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { call, createUnit, uniqueUnit } from "./helpers";
import { createUser, grant, uniqueUser, unknownToken } from "./security-helpers";

type Access = "public" | "admin" | "read" | "write" | "token";
type Caller = "no token" | "wrong token" | "malformed token" | "user without grant" | "r" | "w" | "rw" | "admin";

/** API.md, "Conventions" and "Security API": which access each route needs, first match wins. */
const ACCESS_RULES: Array<[RegExp, Access]> = [
  [/^\/(health|openapi\.json|docs|dashboard)$/, "public"],
  [/^\/security\/whoami$/, "token"],
  [/^\/((admin|security)\/|metrics$)/, "admin"],
  [/^\/access\//, "read"],
  [/^\/reprocess\/(status|failed|runs|run|history)\//, "read"],
  [/^\/(transaction|reprocess)\//, "write"],
];

/** The status each caller gets on a route needing that access (a valid request otherwise). */
const EXPECTED: Record<Access, Record<Caller, number>> = {
  public: { "no token": 200, "wrong token": 200, "malformed token": 200, "user without grant": 200, r: 200, w: 200, rw: 200, admin: 200 },
  admin: { "no token": 401, "wrong token": 401, "malformed token": 401, "user without grant": 403, r: 403, w: 403, rw: 403, admin: 200 },
  read: { "no token": 401, "wrong token": 401, "malformed token": 401, "user without grant": 403, r: 200, w: 403, rw: 200, admin: 200 },
  write: { "no token": 401, "wrong token": 401, "malformed token": 401, "user without grant": 403, r: 403, w: 200, rw: 200, admin: 200 },
  token: { "no token": 401, "wrong token": 401, "malformed token": 401, "user without grant": 200, r: 200, w: 200, rw: 200, admin: 200 },
};
const CALLERS = Object.keys(EXPECTED.public) as Caller[];

function accessOf(path: string): Access {
  const rule = ACCESS_RULES.find(([pattern]) => pattern.test(path));
  if (!rule) throw new Error(`no access rule for ${path}: add one to ACCESS_RULES (API.md, "Security API")`);
  return rule[1];
}

interface Operation {
  method: string;
  path: string;
  access: Access;
}

/** A valid request for an operation: concrete path, body and the set-up it needs (a unit to delete, a user to remove). */
interface Prepared {
  path: string;
  body?: unknown;
}

let tokens: Record<Caller, string | null>;
let unit: string;
let targetUser: string;
let runId: string;
let operations: Operation[];

beforeAll(async () => {
  unit = await createUnit({ reprocessingQueue: true });
  await call("POST", `/admin/setContentProcessingModules/${unit}`, { modules: { raw: [] } });
  expect((await call("PUT", `/transaction/add/${unit}/raw`, { key: "k1", content: { n: 1 } })).status).toBe(200);
  const [none, reader, writer, both, target] = await Promise.all([createUser(), createUser(), createUser(), createUser(), createUser()]);
  await grant("r", reader.name, unit);
  await grant("w", writer.name, unit);
  await grant("rw", both.name, unit);
  targetUser = target.name;
  runId = (await call("POST", `/reprocess/all/${unit}/raw`)).body.runId;
  tokens = {
    "no token": null,
    "wrong token": unknownToken(),
    "malformed token": "not a token",
    "user without grant": none.token,
    r: reader.token,
    w: writer.token,
    rw: both.token,
    admin: undefined as unknown as string,
  };
  const doc = await call("GET", "/openapi.json", undefined, { token: null });
  operations = Object.entries(doc.body.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
    Object.keys(item).map((method) => ({ method: method.toUpperCase(), path, access: accessOf(path) })),
  );
});

/** Fills a route's parameters and body so that a caller with the right access gets 200. */
async function prepare(operation: Operation): Promise<Prepared> {
  const key = `${operation.method} ${operation.path}`;
  const params: Record<string, string> = { unit, key: "k1", scope: "raw", enabled: "true", permission: "r", user: targetUser, runId };
  // routes that consume their subject get a fresh one per request
  if (key === "PUT /admin/createStorageUnit/{unit}") params.unit = uniqueUnit("matrix");
  if (key === "DELETE /admin/deleteStorageUnit/{unit}") params.unit = await createUnit({}, uniqueUnit("matrix"));
  // a split leaves its unit splitting for a while (a second split is refused): each gets a unit of its own
  if (key === "PUT /admin/splitStorageUnit/{unit}") params.unit = await createUnit({}, uniqueUnit("matrix"));
  if (key === "DELETE /security/user/{user}") params.user = (await createUser(uniqueUser("matrix"))).name;
  const path = operation.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    if (!(name in params)) throw new Error(`no value for {${name}} of ${key}: add one to prepare()`);
    return encodeURIComponent(params[name]!);
  });
  const query = /^\/(access\/fetchMultiple|reprocess\/keys)\//.test(operation.path) && operation.method === "GET" ? "?keys=k1" : "";
  return { path: path + query, body: BODIES[key] };
}

/** Request bodies of the routes that need one. */
const BODIES: Record<string, unknown> = {
  // keeps raw's (empty) pipeline, which the reprocess routes need
  "POST /admin/setContentProcessingModules/{unit}": { modules: { raw: [] } },
  "PUT /admin/setReprocessingSettings/{unit}": { batchSize: 20 },
  "PUT /admin/splitStorageUnit/{unit}": { shards: 2 },
  "PUT /admin/setReprocessSchedule/{unit}": { schedules: [] },
  "PUT /transaction/add/{unit}/{scope}": { key: "k1", content: { n: 2 } },
  "POST /transaction/add/{unit}/{scope}": { key: "k1", content: { n: 3 } },
  "PUT /transaction/execute/{unit}/{scope}": { key: "gone", action: "delete" },
  "POST /transaction/execute/{unit}/{scope}": { key: "gone", action: "delete" },
  "POST /transaction/batch/{unit}": '{"action":"add","scope":"raw","key":"k2","content":{}}\n',
  "POST /access/fetchMultiple/{unit}": { keys: ["k1"] },
  "POST /access/fetchMultiple/{unit}/{scope}": { keys: ["k1"] },
  "POST /reprocess/keys/{unit}/{scope}": { keys: ["k1"] },
};

describe("access matrix: every route × every caller", () => {
  it("covers the whole API", () => {
    expect(operations.length).toBeGreaterThan(40);
    for (const access of ["public", "admin", "read", "write", "token"] as const) expect(operations.some((op) => op.access === access)).toBe(true);
  });

  it.each(CALLERS)("%s gets the status its access allows on every route", async (caller) => {
    const mismatches: string[] = [];
    for (const operation of operations) {
      const { path, body } = await prepare(operation);
      const token = caller === "admin" ? undefined : tokens[caller];
      const answer = await call(operation.method, path, body, { token });
      const expected = EXPECTED[operation.access][caller];
      if (answer.status !== expected) {
        mismatches.push(
          `${operation.method} ${path} (${operation.access}): ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}, expected ${expected}`,
        );
        continue;
      }
      if (expected === 401) expect(answer.body.message, `${operation.method} ${path}`).toBe("UNAUTHORIZED");
      if (expected === 403) expect(answer.body.message, `${operation.method} ${path}`).toBe("FORBIDDEN");
      if (expected >= 400) expect(typeof answer.body.detail).toBe("string");
    }
    expect(mismatches).toEqual([]);
  });
});
