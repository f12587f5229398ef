/**
 * Reprocess API (API.md, "Reprocess API"): the four seed routes in both their GET and
 * POST forms, and the extensions (status, pause / resume, failed items, purges). The run
 * routes (runs, run, cancel) are in runs.ts.
 */
import { z } from "@hono/zod-openapi";
import { decodeBase64Url, encodeBase64Url } from "hono/utils/encode";
import { ApiError, unwrap } from "../errors";
import {
  FailedAnswer,
  HistoryAnswer,
  KeysQueuedAnswer,
  Ok,
  PurgedAnswer,
  RequeuedAnswer,
  RunStartedAnswer,
  StatusAnswer,
  UnassignedAnswer,
} from "../http/answers";
import { routes, type App } from "../http/route";
import type { Env } from "../env";
import type { Caller } from "../unit/grants";
import type { Schema } from "hono";
import { LIMITS } from "../limits";
import { Key, KeysBody, ScopeName, UnitName, UnitParam, UnitScopeParam } from "../schemas";
import { keysFromQuery } from "../http/keys-query";
import { shardedUnit } from "../shards/protocol";
import { etaSeconds } from "../unit/runs";
import { ok } from "./units";
import { KEPT_MINUTES } from "../unit/history";

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
const HistoryQuery = z.object({
  minutes: z.coerce
    .number()
    .int()
    .min(1)
    .max(KEPT_MINUTES)
    .default(60)
    .openapi({ description: `how many minutes back, 1 to ${KEPT_MINUTES} (24 h, what is kept)` }),
});
const RetryBody = z
  .object({ keys: z.array(Key).min(1).max(LIMITS.reprocessKeys).optional() })
  .strict()
  .optional();

type Ctx = { env: Env; var: { caller: Caller } };

const queueErrors = ["STORAGE_UNIT_DOESNT_EXIST", "REPROCESSING_QUEUE_DISABLED"] as const;
/** The seed routes that name a scope refuse one the unit cannot reprocess (src/unit/pipeline-scope.ts). */
const scopeRule =
  "A scope that the unit's modules configuration does not name (no pipeline, not even an empty one) is 400 INVALID_REQUEST, whose detail names the scopes that have a pipeline; a scope with an empty pipeline is accepted.";
const keyRoute = {
  path: "/reprocess/key/{unit}/{key}/{scope}",
  summary: "Queue one key of a scope for reprocessing",
  description: scopeRule,
  tag,
  access: "write",
  params: z.object({ unit: UnitName, key: Key, scope: ScopeName }),
  answer: Ok,
  errors: [...queueErrors, "KEY_NOT_FOUND"],
} as const;
const allRoute = {
  path: "/reprocess/all/{unit}/{scope}",
  summary: "Queue every key that has the scope (optionally ?prefix= and ?since=)",
  description: scopeRule,
  tag,
  access: "write",
  params: UnitScopeParam,
  query: AllQuery,
  answer: RunStartedAnswer,
  errors: queueErrors,
} as const;
const resetRoute = {
  path: "/reprocess/reset/{unit}",
  summary: "Put every assigned item back in the queue for another worker",
  tag,
  access: "write",
  params: UnitParam,
  answer: UnassignedAnswer,
  errors: queueErrors,
} as const;
const keysRoute = {
  path: "/reprocess/keys/{unit}/{scope}",
  description: scopeRule,
  tag,
  access: "write",
  params: UnitScopeParam,
  answer: KeysQueuedAnswer,
  errors: queueErrors,
} as const;

async function queueKey(c: Ctx, params: { unit: string; key: string; scope: string }) {
  const { missing } = unwrap(await shardedUnit(c.env, params.unit).reprocessKeys(c.var.caller, params.scope, [params.key]));
  if (missing.length > 0) throw new ApiError("KEY_NOT_FOUND", `record '${params.key}' has no scope '${params.scope}'`);
}

async function queueKeys(c: Ctx, params: { unit: string; scope: string }, keys: string[]) {
  if (keys.length > LIMITS.reprocessKeys) {
    throw new ApiError("INVALID_REQUEST", `keys: ${keys.length} given, at most ${LIMITS.reprocessKeys} per call; split the request`);
  }
  return unwrap(await shardedUnit(c.env, params.unit).reprocessKeys(c.var.caller, params.scope, keys));
}

async function queueAll(c: Ctx, params: { unit: string; scope: string }, query: z.output<typeof AllQuery>) {
  const filter = { prefix: query.prefix, since: query.since === undefined ? undefined : Date.parse(query.since) };
  // the run is named here, once, so each shard of the unit files its share under this id
  const runId = crypto.randomUUID();
  const { queued } = unwrap(await shardedUnit(c.env, params.unit).reprocessAll(c.var.caller, params.scope, filter, { runId, trigger: "api" }));
  return { queued, runId };
}

async function statusOf(c: Ctx, unit: string) {
  const status = unwrap(await shardedUnit(c.env, unit).status(c.var.caller));
  // from the unit's figures, so a sum over shards gives the unit's ETA
  return { ...status, etaSeconds: etaSeconds(status.pending + status.assigned + status.fillRemaining, status.itemsPerSecond) };
}

async function setPaused(c: Ctx, unit: string, paused: boolean) {
  unwrap(await shardedUnit(c.env, unit).setPaused(c.var.caller, paused));
}

export function reprocessRoutes<S extends Schema>(app: App<S>) {
  return routes(app)
    .add({ ...keyRoute, method: "get", operationId: "reprocessKey" }, async (c) => {
      await queueKey(c, c.req.valid("param"));
      return ok(c);
    })
    .add({ ...keyRoute, method: "post", operationId: "reprocessKeyPost" }, async (c) => {
      await queueKey(c, c.req.valid("param"));
      return ok(c);
    })
    .add(
      {
        ...keysRoute,
        method: "get",
        operationId: "reprocessKeysGet",
        summary: "Queue keys of a scope (?keys=k1,k2)",
        query: z.object({ keys: z.string().optional().openapi({ description: "comma-separated keys, each percent-encoded", example: "k1,k2" }) }),
      },
      async (c) => ok(c, await queueKeys(c, c.req.valid("param"), keysFromQuery(c))),
    )
    .add({ ...keysRoute, method: "post", operationId: "reprocessKeys", summary: "Queue keys of a scope", body: KeysBody }, async (c) =>
      ok(c, await queueKeys(c, c.req.valid("param"), c.req.valid("json").keys)),
    )
    .add({ ...allRoute, method: "get", operationId: "reprocessAll" }, async (c) =>
      ok(c, await queueAll(c, c.req.valid("param"), c.req.valid("query"))),
    )
    .add({ ...allRoute, method: "post", operationId: "reprocessAllPost" }, async (c) =>
      ok(c, await queueAll(c, c.req.valid("param"), c.req.valid("query"))),
    )
    .add({ ...resetRoute, method: "get", operationId: "reset" }, async (c) =>
      ok(c, unwrap(await shardedUnit(c.env, c.req.valid("param").unit).reset(c.var.caller))),
    )
    .add({ ...resetRoute, method: "post", operationId: "resetPost" }, async (c) =>
      ok(c, unwrap(await shardedUnit(c.env, c.req.valid("param").unit).reset(c.var.caller))),
    )
    .add(
      {
        method: "get",
        path: "/reprocess/status/{unit}",
        operationId: "status",
        summary: "Queue counts, job state and progress",
        tag,
        access: "read",
        params: UnitParam,
        answer: StatusAnswer,
        errors: ["STORAGE_UNIT_DOESNT_EXIST"],
      },
      async (c) => ok(c, await statusOf(c, c.req.valid("param").unit)),
    )
    .add(
      {
        method: "get",
        path: "/reprocess/history/{unit}",
        operationId: "history",
        summary: "The queue per minute: items processed and failed, and pending at the minute's end (kept 24 h)",
        tag,
        access: "read",
        params: UnitParam,
        query: HistoryQuery,
        answer: HistoryAnswer,
        errors: ["STORAGE_UNIT_DOESNT_EXIST"],
      },
      async (c) => {
        const { minutes } = c.req.valid("query");
        return ok(c, { points: unwrap(await shardedUnit(c.env, c.req.valid("param").unit).history(c.var.caller, minutes, Date.now())) });
      },
    )
    .add(
      {
        method: "put",
        path: "/reprocess/pause/{unit}",
        operationId: "pause",
        summary: "Hold the job; calls are still accepted",
        tag,
        access: "write",
        params: UnitParam,
        answer: Ok,
        errors: ["STORAGE_UNIT_DOESNT_EXIST"],
      },
      async (c) => {
        await setPaused(c, c.req.valid("param").unit, true);
        return ok(c);
      },
    )
    .add(
      {
        method: "put",
        path: "/reprocess/resume/{unit}",
        operationId: "resume",
        summary: "Let the job take up the queue again",
        tag,
        access: "write",
        params: UnitParam,
        answer: Ok,
        errors: ["STORAGE_UNIT_DOESNT_EXIST"],
      },
      async (c) => {
        await setPaused(c, c.req.valid("param").unit, false);
        return ok(c);
      },
    )
    .add(
      {
        method: "get",
        path: "/reprocess/failed/{unit}",
        operationId: "failed",
        summary: "Items that used up maxAttempts",
        tag,
        access: "read",
        params: UnitParam,
        query: FailedQuery,
        answer: FailedAnswer,
        errors: ["STORAGE_UNIT_DOESNT_EXIST"],
      },
      async (c) => {
        const query = c.req.valid("query");
        const page = unwrap(await shardedUnit(c.env, c.req.valid("param").unit).failedItems(c.var.caller, query.limit, decodeCursor(query.cursor)));
        return ok(c, { items: page.items, nextCursor: page.nextCursor ? encodeCursor(page.nextCursor) : null });
      },
    )
    .add(
      {
        method: "post",
        path: "/reprocess/retryFailed/{unit}",
        operationId: "retryFailed",
        summary: "Queue failed items again (all, or those with the given keys)",
        tag,
        access: "write",
        params: UnitParam,
        body: RetryBody,
        answer: RequeuedAnswer,
        errors: ["STORAGE_UNIT_DOESNT_EXIST"],
      },
      async (c) => ok(c, unwrap(await shardedUnit(c.env, c.req.valid("param").unit).retryFailed(c.var.caller, c.req.valid("json")?.keys))),
    )
    .add(
      {
        method: "post",
        path: "/reprocess/purgeFailed/{unit}",
        operationId: "purgeFailed",
        summary: "Forget failed items",
        tag,
        access: "write",
        params: UnitParam,
        answer: PurgedAnswer,
        errors: ["STORAGE_UNIT_DOESNT_EXIST"],
      },
      async (c) => ok(c, unwrap(await shardedUnit(c.env, c.req.valid("param").unit).purgeFailed(c.var.caller))),
    )
    .add(
      {
        method: "post",
        path: "/reprocess/purge/{unit}",
        operationId: "purge",
        summary: "Drop pending items (assigned ones finish)",
        tag,
        access: "write",
        params: UnitParam,
        answer: PurgedAnswer,
        errors: ["STORAGE_UNIT_DOESNT_EXIST"],
      },
      async (c) => ok(c, unwrap(await shardedUnit(c.env, c.req.valid("param").unit).purge(c.var.caller))),
    ).app;
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
