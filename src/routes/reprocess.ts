/**
 * Reprocess API (API.md, "Reprocess API"): the four seed routes in both their GET and
 * POST forms, and the extensions (status, pause / resume, failed items, purges).
 */
import { z } from "@hono/zod-openapi";
import { decodeBase64Url, encodeBase64Url } from "hono/utils/encode";
import { ApiError, unwrap } from "../errors";
import { defineRoute, type App } from "../http/route";
import { LIMITS } from "../limits";
import { Key, KeysBody, ScopeName, UnitName, UnitParam, UnitScopeParam } from "../schemas";
import { keysFromQuery } from "../http/keys-query";
import { unitOf } from "../bindings";
import { ok } from "./units";

const tag = "Reprocess";

const AllQuery = z.object({
  prefix: z.string().min(1).optional().openapi({ description: "only keys starting with this" }),
  since: z
    .string()
    .refine((value) => !Number.isNaN(Date.parse(value)), "an ISO time, e.g. 2026-11-28T00:00:00Z")
    .optional()
    .openapi({ description: "only scopes updated at or after this ISO time" }),
});
const FailedQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().optional().openapi({ description: "the nextCursor of the previous page" }),
});
const RetryBody = z.object({ keys: z.array(Key).min(1).max(LIMITS.reprocessKeys).optional() }).strict().optional();

function checkKeyCount(keys: string[]): void {
  if (keys.length > LIMITS.reprocessKeys) {
    throw new ApiError("INVALID_REQUEST", `keys: ${keys.length} given, at most ${LIMITS.reprocessKeys} per call; split the request`);
  }
}

export function reprocessRoutes(app: App): void {
  defineRoute(
    app,
    {
      methods: ["get", "post"],
      path: "/reprocess/key/{unit}/{key}/{scope}",
      summary: "Queue one key of a scope for reprocessing",
      tag,
      access: "write",
      params: z.object({ unit: UnitName, key: Key, scope: ScopeName }),
    },
    async (c, { params, caller }) => {
      const { missing } = unwrap(await unitOf(c.env, params.unit).reprocessKeys(caller, params.scope, [params.key]));
      if (missing.length > 0) throw new ApiError("KEY_NOT_FOUND", `record '${params.key}' has no scope '${params.scope}'`);
      return ok(c);
    },
  );

  defineRoute(
    app,
    { methods: ["get"], path: "/reprocess/keys/{unit}/{scope}", summary: "Queue keys of a scope (?keys=k1,k2)", tag, access: "write", params: UnitScopeParam, query: z.object({ keys: z.string().optional() }) },
    async (c, { params, caller }) => {
      const keys = keysFromQuery(c);
      checkKeyCount(keys);
      return ok(c, unwrap(await unitOf(c.env, params.unit).reprocessKeys(caller, params.scope, keys)));
    },
  );

  defineRoute(
    app,
    { methods: ["post"], path: "/reprocess/keys/{unit}/{scope}", summary: "Queue keys of a scope", tag, access: "write", params: UnitScopeParam, body: KeysBody },
    async (c, { params, body, caller }) => {
      checkKeyCount(body.keys);
      return ok(c, unwrap(await unitOf(c.env, params.unit).reprocessKeys(caller, params.scope, body.keys)));
    },
  );

  defineRoute(
    app,
    {
      methods: ["get", "post"],
      path: "/reprocess/all/{unit}/{scope}",
      summary: "Queue every key that has the scope (optionally ?prefix= and ?since=)",
      tag,
      access: "write",
      params: UnitScopeParam,
      query: AllQuery,
    },
    async (c, { params, query, caller }) => {
      const filter = { prefix: query.prefix, since: query.since === undefined ? undefined : Date.parse(query.since) };
      return ok(c, unwrap(await unitOf(c.env, params.unit).reprocessAll(caller, params.scope, filter)));
    },
  );

  defineRoute(
    app,
    { methods: ["get", "post"], path: "/reprocess/reset/{unit}", summary: "Put every assigned item back in the queue for another worker", tag, access: "write", params: UnitParam },
    async (c, { params, caller }) => ok(c, unwrap(await unitOf(c.env, params.unit).reset(caller))),
  );

  defineRoute(
    app,
    { methods: ["get"], path: "/reprocess/status/{unit}", summary: "Queue counts, job state and progress", tag, access: "read", params: UnitParam },
    async (c, { params, caller }) => ok(c, unwrap(await unitOf(c.env, params.unit).status(caller))),
  );

  for (const [name, paused] of [["pause", true], ["resume", false]] as const) {
    defineRoute(
      app,
      { methods: ["put"], path: `/reprocess/${name}/{unit}`, summary: paused ? "Hold the job; calls are still accepted" : "Let the job take up the queue again", tag, access: "write", params: UnitParam },
      async (c, { params, caller }) => {
        unwrap(await unitOf(c.env, params.unit).setPaused(caller, paused));
        return ok(c);
      },
    );
  }

  defineRoute(
    app,
    { methods: ["get"], path: "/reprocess/failed/{unit}", summary: "Items that used up maxAttempts", tag, access: "read", params: UnitParam, query: FailedQuery },
    async (c, { params, query, caller }) => {
      const page = unwrap(await unitOf(c.env, params.unit).failedItems(caller, query.limit, decodeCursor(query.cursor)));
      return ok(c, { items: page.items, nextCursor: page.nextCursor ? encodeCursor(page.nextCursor) : null });
    },
  );

  defineRoute(
    app,
    { methods: ["post"], path: "/reprocess/retryFailed/{unit}", summary: "Queue failed items again (all, or those with the given keys)", tag, access: "write", params: UnitParam, body: RetryBody },
    async (c, { params, body, caller }) => ok(c, unwrap(await unitOf(c.env, params.unit).retryFailed(caller, body?.keys))),
  );

  defineRoute(
    app,
    { methods: ["post"], path: "/reprocess/purgeFailed/{unit}", summary: "Forget failed items", tag, access: "write", params: UnitParam },
    async (c, { params, caller }) => ok(c, unwrap(await unitOf(c.env, params.unit).purgeFailed(caller))),
  );

  defineRoute(
    app,
    { methods: ["post"], path: "/reprocess/purge/{unit}", summary: "Drop pending items (assigned ones finish)", tag, access: "write", params: UnitParam },
    async (c, { params, caller }) => ok(c, unwrap(await unitOf(c.env, params.unit).purge(caller))),
  );
}

/** Cursors of the failed list are opaque to clients: base64url of the last (scope, key). */
function encodeCursor(cursor: { scope: string; key: string }): string {
  return encodeBase64Url(new TextEncoder().encode(JSON.stringify([cursor.scope, cursor.key])).buffer);
}

function decodeCursor(cursor: string | undefined): { scope: string; key: string } | undefined {
  if (cursor === undefined) return undefined;
  try {
    const [scope, key] = JSON.parse(new TextDecoder().decode(decodeBase64Url(cursor)));
    if (typeof scope === "string" && typeof key === "string") return { scope, key };
  } catch {
    // fall through to the error below
  }
  throw new ApiError("INVALID_REQUEST", "query.cursor: not a cursor from this API; pass the nextCursor of the previous page");
}
