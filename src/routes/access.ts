/** Access API (API.md, "Access API"): fetch one record, several, or a page in key order. */
import { z } from "@hono/zod-openapi";
import { ApiError, unwrap } from "../errors";
import { keysFromQuery } from "../http/keys-query";
import { FetchAnswer, PageAnswer, RecordsAnswer } from "../http/answers";
import { routes, type App } from "../http/route";
import { LIMITS } from "../limits";
import { Key, KeysBody, RECORD_SCOPE, ScopeOrRecord, UnitName } from "../schemas";
import { shardedUnit } from "../shards/protocol";
import type { Env } from "../env";
import type { Caller } from "../unit/grants";
import type { Schema } from "hono";
import { ok } from "./units";

const tag = "Access";

/** `$record` (or no scope) means every scope. */
const scopeFilter = (scope: string | undefined) => (scope === undefined || scope === RECORD_SCOPE ? undefined : scope);

const FetchMultipleQuery = z.object({
  keys: z.string().optional().openapi({ description: "comma-separated keys, each percent-encoded", example: "k1,k2" }),
});
const PageQuery = z.object({
  startId: z.string().optional().openapi({ description: "the nextStartId of the previous page" }),
  batchSize: z.coerce
    .number()
    .int()
    .min(1)
    .max(LIMITS.pageSizeMax)
    .default(LIMITS.pageSizeDefault)
    .openapi({ description: "records a page, 1–1000", example: 10 }),
});
const UnitKey = z.object({ unit: UnitName, key: Key });
const UnitKeyScope = z.object({ unit: UnitName, key: Key, scope: ScopeOrRecord });
const Unit = z.object({ unit: UnitName });
const UnitScope = z.object({ unit: UnitName, scope: ScopeOrRecord });

const fetchRecord = {
  path: "/access/fetch/{unit}/{key}",
  summary: "Fetch a record with all its scopes",
  tag,
  access: "read",
  params: UnitKey,
  answer: FetchAnswer,
  errors: ["STORAGE_UNIT_DOESNT_EXIST", "KEY_NOT_FOUND"],
} as const;
const fetchRecordScope = {
  ...fetchRecord,
  path: "/access/fetch/{unit}/{key}/{scope}",
  summary: "Fetch one scope of a record ($record: all)",
  params: UnitKeyScope,
} as const;
const fetchMultiple = {
  path: "/access/fetchMultiple/{unit}",
  summary: "Fetch several records in the order asked",
  tag,
  access: "read",
  params: Unit,
  answer: RecordsAnswer,
  errors: ["STORAGE_UNIT_DOESNT_EXIST"],
} as const;
const fetchMultipleScope = {
  ...fetchMultiple,
  path: "/access/fetchMultiple/{unit}/{scope}",
  summary: "Fetch one scope ($record: all) of several records in the order asked",
  params: UnitScope,
} as const;
const fetchPage = {
  path: "/access/fetchPage/{unit}",
  summary: "A page of records sorted by key (byte order)",
  tag,
  access: "read",
  params: Unit,
  query: PageQuery,
  answer: PageAnswer,
  errors: ["STORAGE_UNIT_DOESNT_EXIST"],
} as const;
const fetchPageScope = {
  ...fetchPage,
  path: "/access/fetchPage/{unit}/{scope}",
  summary: "A page of records sorted by key, one scope ($record: all)",
  params: UnitScope,
} as const;

type ScopeParams = { unit: string; scope?: string };
type Ctx = { env: Env; var: { caller: Caller } };

async function one(c: Ctx, params: ScopeParams & { key: string }) {
  return unwrap(await shardedUnit(c.env, params.unit).fetchRecord(c.var.caller, params.key, scopeFilter(params.scope)));
}

async function many(c: Ctx, params: ScopeParams, keys: string[]) {
  if (keys.length > LIMITS.fetchMultipleKeys) {
    throw new ApiError("INVALID_REQUEST", `keys: ${keys.length} given, at most ${LIMITS.fetchMultipleKeys} per fetchMultiple; split the request`);
  }
  return unwrap(await shardedUnit(c.env, params.unit).fetchMany(c.var.caller, keys, scopeFilter(params.scope)));
}

async function page(c: Ctx, params: ScopeParams, query: z.output<typeof PageQuery>) {
  return unwrap(await shardedUnit(c.env, params.unit).fetchPage(c.var.caller, query.startId, query.batchSize, scopeFilter(params.scope)));
}

export function accessRoutes<S extends Schema>(app: App<S>) {
  return routes(app)
    .add({ ...fetchRecord, method: "get", operationId: "fetchRecord" }, async (c) => ok(c, await one(c, c.req.valid("param"))))
    .add({ ...fetchRecord, method: "post", operationId: "fetchRecordPost" }, async (c) => ok(c, await one(c, c.req.valid("param"))))
    .add({ ...fetchRecordScope, method: "get", operationId: "fetchRecordScope" }, async (c) => ok(c, await one(c, c.req.valid("param"))))
    .add({ ...fetchRecordScope, method: "post", operationId: "fetchRecordScopePost" }, async (c) => ok(c, await one(c, c.req.valid("param"))))
    .add({ ...fetchMultiple, method: "get", operationId: "fetchMultipleGet", query: FetchMultipleQuery }, async (c) =>
      ok(c, await many(c, c.req.valid("param"), keysFromQuery(c))),
    )
    .add({ ...fetchMultiple, method: "post", operationId: "fetchMultiple", body: KeysBody }, async (c) =>
      ok(c, await many(c, c.req.valid("param"), c.req.valid("json").keys)),
    )
    .add({ ...fetchMultipleScope, method: "get", operationId: "fetchMultipleScopeGet", query: FetchMultipleQuery }, async (c) =>
      ok(c, await many(c, c.req.valid("param"), keysFromQuery(c))),
    )
    .add({ ...fetchMultipleScope, method: "post", operationId: "fetchMultipleScope", body: KeysBody }, async (c) =>
      ok(c, await many(c, c.req.valid("param"), c.req.valid("json").keys)),
    )
    .add({ ...fetchPage, method: "get", operationId: "fetchPage" }, async (c) => ok(c, await page(c, c.req.valid("param"), c.req.valid("query"))))
    .add({ ...fetchPage, method: "post", operationId: "fetchPagePost" }, async (c) =>
      ok(c, await page(c, c.req.valid("param"), c.req.valid("query"))),
    )
    .add({ ...fetchPageScope, method: "get", operationId: "fetchPageScope" }, async (c) =>
      ok(c, await page(c, c.req.valid("param"), c.req.valid("query"))),
    )
    .add({ ...fetchPageScope, method: "post", operationId: "fetchPageScopePost" }, async (c) =>
      ok(c, await page(c, c.req.valid("param"), c.req.valid("query"))),
    ).app;
}
