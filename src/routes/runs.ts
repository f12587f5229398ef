/**
 * Runs (API.md, "Runs, progress and metrics"): list a unit's runs, follow one, cancel one.
 * Each shard of a unit answers for its share of a run; the answers are combined here
 * (`combineRuns`), so a run's id, counts, rate, ETA and cancel are the unit's.
 */
import { z } from "@hono/zod-openapi";
import type { Schema } from "hono";
import { unitOf } from "../bindings";
import type { Env } from "../env";
import { unwrap } from "../errors";
import { CancelAnswer, RunAnswer, RunsAnswer } from "../http/answers";
import { routes, type App } from "../http/route";
import { UnitName } from "../schemas";
import type { Caller } from "../unit/grants";
import { combineRunLists, combineRuns } from "../unit/runs";
import { ok } from "./units";

const tag = "Reprocess";
const RunParam = z.object({ unit: UnitName, runId: z.string().min(1).max(100).openapi({ description: "the runId reprocess/all answered" }) });
const RunsQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) });

type Ctx = { env: Env; var: { caller: Caller } };

/** The objects that hold a unit's shares of its runs: its one object until units are sharded. */
function shardsOf(env: Env, unit: string) {
  return [unitOf(env, unit)];
}

async function runOf(c: Ctx, unit: string, runId: string) {
  return combineRuns(await Promise.all(shardsOf(c.env, unit).map(async (shard) => unwrap(await shard.runPart(c.var.caller, runId)))));
}

export function runRoutes<S extends Schema>(app: App<S>) {
  return routes(app)
    .add(
      {
        method: "get",
        path: "/reprocess/runs/{unit}",
        operationId: "runs",
        summary: "The unit's runs (reprocess/all, by the API or a schedule), newest first",
        tag,
        access: "read",
        params: z.object({ unit: UnitName }),
        query: RunsQuery,
        answer: RunsAnswer,
        errors: ["STORAGE_UNIT_DOESNT_EXIST"],
      },
      async (c) => {
        const { unit } = c.req.valid("param");
        const { limit } = c.req.valid("query");
        const lists = await Promise.all(shardsOf(c.env, unit).map(async (shard) => unwrap(await shard.runList(c.var.caller, limit))));
        return ok(c, { runs: combineRunLists(lists, limit) });
      },
    )
    .add(
      {
        method: "get",
        path: "/reprocess/run/{unit}/{runId}",
        operationId: "run",
        summary: "One run: its state, counts, rate and ETA",
        tag,
        access: "read",
        params: RunParam,
        answer: RunAnswer,
        errors: ["STORAGE_UNIT_DOESNT_EXIST", "RUN_NOT_FOUND"],
      },
      async (c) => {
        const { unit, runId } = c.req.valid("param");
        return ok(c, { run: await runOf(c, unit, runId) });
      },
    )
    .add(
      {
        method: "post",
        path: "/reprocess/cancel/{unit}/{runId}",
        operationId: "cancelRun",
        summary: "Stop a run: its pending items and unfilled keys are dropped, running batches finish",
        tag,
        access: "write",
        params: RunParam,
        answer: CancelAnswer,
        errors: ["STORAGE_UNIT_DOESNT_EXIST", "RUN_NOT_FOUND"],
      },
      async (c) => {
        const { unit, runId } = c.req.valid("param");
        const parts = await Promise.all(shardsOf(c.env, unit).map(async (shard) => unwrap(await shard.cancelRun(c.var.caller, runId))));
        return ok(c, { dropped: parts.reduce((sum, part) => sum + part.dropped, 0) });
      },
    ).app;
}
