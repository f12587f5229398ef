/** Access API (API.md, "Access API"): fetch one record, several, or a page in key order. */
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiError, unwrap } from "../errors";
import { keysFromQuery } from "../http/keys-query";
import { defineRoute, type App, type AppEnv } from "../http/route";
import { LIMITS } from "../limits";
import { Key, KeysBody, RECORD_SCOPE, ScopeOrRecord, UnitName } from "../schemas";
import { unitOf } from "../bindings";
import type { Caller } from "../unit/grants";
import { ok } from "./units";

const tag = "Access";

/** `$record` (or no scope) means every scope. */
const scopeFilter = (scope: string | undefined) => (scope === undefined || scope === RECORD_SCOPE ? undefined : scope);

const FetchMultipleQuery = z.object({ keys: z.string().optional().openapi({ description: "comma-separated keys, each percent-encoded", example: "k1,k2" }) });
const PageQuery = z.object({
  startId: z.string().optional().openapi({ description: "the nextStartId of the previous page" }),
  batchSize: z.coerce.number().int().min(1).max(LIMITS.pageSizeMax).default(LIMITS.pageSizeDefault),
});

export function accessRoutes(app: App): void {
  for (const withScope of [false, true]) {
    const scopePath = withScope ? "/{scope}" : "";
    const scopeShape = withScope ? { scope: ScopeOrRecord } : {};

    defineRoute(
      app,
      {
        methods: ["get", "post"],
        path: `/access/fetch/{unit}/{key}${scopePath}`,
        summary: withScope ? "Fetch one scope of a record ($record: all)" : "Fetch a record with all its scopes",
        tag,
        access: "read",
        params: z.object({ unit: UnitName, key: Key, ...scopeShape }),
      },
      async (c, { params, caller }) => {
        const scope = scopeFilter((params as { scope?: string }).scope);
        return ok(c, unwrap(await unitOf(c.env, params.unit).fetchRecord(caller, params.key, scope)));
      },
    );

    defineRoute(
      app,
      {
        methods: ["get"],
        path: `/access/fetchMultiple/{unit}${scopePath}`,
        summary: "Fetch several records in the order asked (?keys=k1,k2)",
        tag,
        access: "read",
        params: z.object({ unit: UnitName, ...scopeShape }),
        query: FetchMultipleQuery,
      },
      async (c, { params, caller }) => fetchMultiple(c, caller, params.unit, (params as { scope?: string }).scope, keysFromQuery(c)),
    );

    defineRoute(
      app,
      {
        methods: ["post"],
        path: `/access/fetchMultiple/{unit}${scopePath}`,
        summary: "Fetch several records in the order asked",
        tag,
        access: "read",
        params: z.object({ unit: UnitName, ...scopeShape }),
        body: KeysBody,
      },
      async (c, { params, body, caller }) => fetchMultiple(c, caller, params.unit, (params as { scope?: string }).scope, body.keys),
    );

    defineRoute(
      app,
      {
        methods: ["get", "post"],
        path: `/access/fetchPage/{unit}${scopePath}`,
        summary: "A page of records sorted by key (byte order)",
        tag,
        access: "read",
        params: z.object({ unit: UnitName, ...scopeShape }),
        query: PageQuery,
      },
      async (c, { params, query, caller }) => {
        const page = unwrap(await unitOf(c.env, params.unit).fetchPage(caller, query.startId, query.batchSize, scopeFilter((params as { scope?: string }).scope)));
        return ok(c, page);
      },
    );
  }
}

async function fetchMultiple(c: Context<AppEnv>, caller: Caller, unit: string, scope: string | undefined, keys: string[]): Promise<Response> {
  if (keys.length > LIMITS.fetchMultipleKeys) {
    throw new ApiError("INVALID_REQUEST", `keys: ${keys.length} given, at most ${LIMITS.fetchMultipleKeys} per fetchMultiple; split the request`);
  }
  return ok(c, unwrap(await unitOf(c.env, unit).fetchMany(caller, keys, scopeFilter(scope))));
}
