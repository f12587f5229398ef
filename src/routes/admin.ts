/** Admin API (API.md, "Admin API"): storage units, their modules, flags, settings and schedules. */
import { z } from "@hono/zod-openapi";
import type { Schema } from "hono";
import { isFailure, unwrap } from "../errors";
import { ModulesAnswer, Ok, SchedulesAnswer, SettingsAnswer, SplitAnswer, UnitAnswer, UnitListAnswer } from "../http/answers";
import { routes, type App } from "../http/route";
import { checkModulesConfig } from "../modules/pipeline";
import { registryOf } from "../bindings";
import { shardedUnit } from "../shards/protocol";
import { ADMIN } from "../unit/grants";
import { BooleanParam, CreateUnitBody, ModulesBody, ReprocessingSettingsPatch, ScheduleBody, SplitBody, UnitName, UnitParam } from "../schemas";
import { ok } from "./units";

const tag = "Admin";
const access = "admin";
const EXISTING = ["STORAGE_UNIT_DOESNT_EXIST"] as const;
const FlagParam = z.object({ unit: UnitName, enabled: BooleanParam });

export function adminRoutes<S extends Schema>(app: App<S>) {
  return routes(app)
    .add(
      {
        method: "put",
        path: "/admin/createStorageUnit/{unit}",
        operationId: "createStorageUnit",
        summary: "Create a storage unit",
        tag,
        access,
        params: UnitParam,
        body: CreateUnitBody.optional(),
        answer: Ok,
        errors: ["STORAGE_UNIT_ALREADY_EXISTS"],
      },
      async (c) => {
        const { unit: name } = c.req.valid("param");
        const options = c.req.valid("json") ?? CreateUnitBody.parse({});
        const unit = shardedUnit(c.env, name);
        const created = await unit.create(ADMIN, options);
        if (isFailure(created) && created.error === "STORAGE_UNIT_ALREADY_EXISTS") {
          // a retry after the registry missed the unit (addUnit failed): list it before answering 409
          const existing = await unit.info(ADMIN);
          if (!isFailure(existing)) await registryOf(c.env).addUnit(name, existing.createdAt);
        }
        await registryOf(c.env).addUnit(name, unwrap(created).createdAt);
        return ok(c);
      },
    )
    .add(
      {
        method: "delete",
        path: "/admin/deleteStorageUnit/{unit}",
        operationId: "deleteStorageUnit",
        summary: "Delete a storage unit with its records, queue and configuration",
        tag,
        access,
        params: UnitParam,
        answer: Ok,
        errors: EXISTING,
      },
      async (c) => {
        const { unit } = c.req.valid("param");
        const destroyed = await shardedUnit(c.env, unit).destroy(ADMIN);
        // also on 404: a retry after removeUnit failed must still take the unit off the list (removeUnit is idempotent)
        if (!isFailure(destroyed) || destroyed.error === "STORAGE_UNIT_DOESNT_EXIST") await registryOf(c.env).removeUnit(unit);
        unwrap(destroyed);
        return ok(c);
      },
    )
    .add(
      {
        method: "get",
        path: "/admin/listStorageUnits",
        operationId: "listStorageUnits",
        summary: "List the storage units",
        tag,
        access,
        answer: UnitListAnswer,
      },
      async (c) => ok(c, { storageUnits: await registryOf(c.env).listUnits() }),
    )
    .add(
      {
        method: "get",
        path: "/admin/getStorageUnit/{unit}",
        operationId: "getStorageUnit",
        summary: "A unit's configuration, flags, settings and record / queue counts",
        tag,
        access,
        params: UnitParam,
        answer: UnitAnswer,
        errors: EXISTING,
      },
      async (c) => {
        const info = unwrap(await shardedUnit(c.env, c.req.valid("param").unit).info(ADMIN));
        return ok(c, { storageUnit: { ...info, createdAt: new Date(info.createdAt).toISOString() } });
      },
    )
    .add(
      {
        method: "put",
        path: "/admin/splitStorageUnit/{unit}",
        operationId: "splitStorageUnit",
        summary: "Spread the unit over more shards, moving its records in the background",
        description:
          "Answers at once; writes, reads and reprocessing go on while the records move (a write to a key waits at most for the one move step that carries it). A second split while one runs is 409 STORAGE_UNIT_SPLITTING (Retry-After). `splitting` in reprocess/status and getStorageUnit shows the progress.",
        tag,
        access,
        params: UnitParam,
        body: SplitBody,
        answer: SplitAnswer,
        errors: [...EXISTING, "STORAGE_UNIT_SPLITTING"],
      },
      async (c) => {
        unwrap(await shardedUnit(c.env, c.req.valid("param").unit).splitting(ADMIN, { op: "begin", to: c.req.valid("json").shards }));
        return ok(c, { splitting: true as const });
      },
    )
    .add(
      {
        method: "post",
        path: "/admin/setContentProcessingModules/{unit}",
        operationId: "setContentProcessingModules",
        summary: "Replace the unit's pipelines (one per scope) and unit-level module settings",
        tag,
        access,
        params: UnitParam,
        body: ModulesBody,
        answer: Ok,
        errors: [...EXISTING, "UNKNOWN_MODULE", "INVALID_MODULE_SETTINGS"],
      },
      async (c) => {
        const checked = unwrap(checkModulesConfig(c.req.valid("json"), c.env as unknown as Record<string, unknown>));
        unwrap(await shardedUnit(c.env, c.req.valid("param").unit).setModules(ADMIN, checked));
        return ok(c);
      },
    )
    .add(
      {
        method: "get",
        path: "/admin/getContentProcessingModules/{unit}",
        operationId: "getContentProcessingModules",
        summary: "The unit's stored module configuration",
        tag,
        access,
        params: UnitParam,
        answer: ModulesAnswer,
        errors: EXISTING,
      },
      async (c) => ok(c, unwrap(await shardedUnit(c.env, c.req.valid("param").unit).getModules(ADMIN))),
    )
    .add(
      {
        method: "put",
        path: "/admin/enableReprocessingQueue/{unit}/{enabled}",
        operationId: "enableReprocessingQueue",
        summary: "Accept (true) or refuse (false) the reprocess routes",
        tag,
        access,
        params: FlagParam,
        answer: Ok,
        errors: EXISTING,
      },
      async (c) => {
        const { unit, enabled } = c.req.valid("param");
        unwrap(await shardedUnit(c.env, unit).setFlag(ADMIN, "reprocessingQueue", enabled));
        return ok(c);
      },
    )
    .add(
      {
        method: "put",
        path: "/admin/enableContentProcessing/{unit}/{enabled}",
        operationId: "enableContentProcessing",
        summary: "Whether writes and deletes queue their scope for processing",
        tag,
        access,
        params: FlagParam,
        answer: Ok,
        errors: EXISTING,
      },
      async (c) => {
        const { unit, enabled } = c.req.valid("param");
        unwrap(await shardedUnit(c.env, unit).setFlag(ADMIN, "contentProcessing", enabled));
        return ok(c);
      },
    )
    .add(
      {
        method: "put",
        path: "/admin/setReprocessingSettings/{unit}",
        operationId: "setReprocessingSettings",
        summary: "Change any of the reprocessing settings",
        tag,
        access,
        params: UnitParam,
        body: ReprocessingSettingsPatch,
        answer: SettingsAnswer,
        errors: EXISTING,
      },
      async (c) => ok(c, { settings: unwrap(await shardedUnit(c.env, c.req.valid("param").unit).setSettings(ADMIN, c.req.valid("json"))) }),
    )
    .add(
      {
        method: "put",
        path: "/admin/setReprocessSchedule/{unit}",
        operationId: "setReprocessSchedule",
        summary: "Run reprocess/all for a scope at cron times (UTC); an empty list removes them",
        tag,
        access,
        params: UnitParam,
        body: ScheduleBody,
        answer: SchedulesAnswer,
        errors: EXISTING,
      },
      async (c) =>
        ok(c, { schedules: unwrap(await shardedUnit(c.env, c.req.valid("param").unit).setSchedules(ADMIN, c.req.valid("json").schedules)) }),
    )
    .add(
      {
        method: "get",
        path: "/admin/getReprocessSchedule/{unit}",
        operationId: "getReprocessSchedule",
        summary: "The unit's schedules with their next run times",
        tag,
        access,
        params: UnitParam,
        answer: SchedulesAnswer,
        errors: EXISTING,
      },
      async (c) => ok(c, { schedules: unwrap(await shardedUnit(c.env, c.req.valid("param").unit).getSchedules(ADMIN)) }),
    ).app;
}
