/**
 * `GET /metrics` (API.md, "Runs, progress and metrics"): every unit the registry lists, its
 * shards' counters summed, in Prometheus text. Each unit answers from counters it keeps
 * as its queue changes and once per batch: a scrape counts no queue. A unit that throws
 * (a broken shard) is left out of the answer and logged as `metrics-unit-failed`; an
 * overloaded server refuses the whole scrape with 503 `OVERLOADED`, which passes with a wait.
 */
import type { Schema } from "hono";
import { registryOf } from "../bindings";
import { shardedUnit } from "../shards/protocol";
import { ADMIN } from "../unit/grants";
import { isFailure, isOverloaded } from "../errors";
import { log } from "../log";
import { PROMETHEUS_CONTENT_TYPE, renderMetrics } from "../http/prometheus";
import { routes, type App } from "../http/route";

export function metricsRoutes<S extends Schema>(app: App<S>) {
  return routes(app).add(
    {
      method: "get",
      path: "/metrics",
      operationId: "metrics",
      summary: "Prometheus metrics of every unit (label `unit`)",
      tag: "Other",
      access: "admin",
      answer: "text",
    },
    async (c) => {
      const units = await registryOf(c.env).listUnits();
      const gathered = await Promise.all(
        units.map(async ({ name }) => {
          try {
            const metrics = await shardedUnit(c.env, name).metricsOf(ADMIN);
            // a unit deleted since the registry listed it has nothing to show
            return isFailure(metrics) ? undefined : { unit: name, metrics };
          } catch (error) {
            // an overload passes: the scraper is told to come back rather than shown a unit missing
            if (isOverloaded(error)) throw error;
            // one broken unit must not blind the scrape to every other: it is left out and logged
            log("error", "metrics-unit-failed", { unit: name, error: String(error) });
            return undefined;
          }
        }),
      );
      const body = renderMetrics(gathered.filter((unit) => unit !== undefined));
      return c.text(body, 200, { "content-type": PROMETHEUS_CONTENT_TYPE });
    },
  ).app;
}
