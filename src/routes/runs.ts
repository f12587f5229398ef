/**
 * Runs (API.md, "Runs, progress and metrics"): list a unit's runs, follow one, cancel one.
 * Each shard of a unit answers for its share of a run; the answers are combined here
 * (src/shards/protocol.ts, rows `runList` and `runPart`; runs.ts, `combineRuns`), so a run's id, counts, rate, ETA and cancel are the unit's.
 */
import { z } from "@hono/zod-openapi";
import type { Schema } from "hono";
import { shardedUnit } from "../shards/protocol";
import { unwrap } from "../errors";
import { CancelAnswer, RunAnswer, RunsAnswer } from "../http/answers";
import { routes, type App } from "../http/route";
import { UnitName } from "../schemas";
import { ok } from "./units";

const tag = "Reprocess";
const RunParam = z.object({ unit: UnitName, runId: z.string().min(1).max(100).openapi({ description: "the runId reprocess/all answered" }) });
const RunsQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) });

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
        return ok(c, { runs: unwrap(await shardedUnit(c.env, unit).runList(c.var.caller, limit)) });
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
        return ok(c, { run: unwrap(await shardedUnit(c.env, unit).runPart(c.var.caller, runId)) });
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
        return ok(c, unwrap(await shardedUnit(c.env, unit).cancelRun(c.var.caller, runId)));
      },
    ).app;
}
