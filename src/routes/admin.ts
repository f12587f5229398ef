/** Admin API (API.md, "Admin API"): storage units, their modules, flags, settings and schedules. */
import { z } from "@hono/zod-openapi";
import { isFailure, unwrap } from "../errors";
import { defineRoute, type App } from "../http/route";
import { checkModulesConfig } from "../modules/pipeline";
import { registryOf, unitOf } from "../bindings";
import { BooleanParam, CreateUnitBody, ModulesBody, ReprocessingSettingsPatch, ScheduleBody, UnitName, UnitParam } from "../schemas";
import { ok } from "./units";

const tag = "Admin";

export function adminRoutes(app: App): void {
  defineRoute(
    app,
    { methods: ["put"], path: "/admin/createStorageUnit/{unit}", summary: "Create a storage unit", tag, access: "admin", params: UnitParam, body: CreateUnitBody.optional() },
    async (c, { params, body }) => {
      const options = body ?? CreateUnitBody.parse({});
      const unit = unitOf(c.env, params.unit);
      const created = await unit.create(params.unit, options);
      if (isFailure(created) && created.error === "STORAGE_UNIT_ALREADY_EXISTS") {
        // a retry after the registry missed the unit (addUnit failed): list it before answering 409
        const existing = await unit.info();
        if (!isFailure(existing)) await registryOf(c.env).addUnit(params.unit, existing.createdAt);
      }
      await registryOf(c.env).addUnit(params.unit, unwrap(created).createdAt);
      return ok(c);
    },
  );

  defineRoute(
    app,
    { methods: ["delete"], path: "/admin/deleteStorageUnit/{unit}", summary: "Delete a storage unit with its records, queue and configuration", tag, access: "admin", params: UnitParam },
    async (c, { params }) => {
      const destroyed = await unitOf(c.env, params.unit).destroy();
      // also on 404: a retry after removeUnit failed must still take the unit off the list (removeUnit is idempotent)
      if (!isFailure(destroyed) || destroyed.error === "STORAGE_UNIT_DOESNT_EXIST") await registryOf(c.env).removeUnit(params.unit);
      unwrap(destroyed);
      return ok(c);
    },
  );

  defineRoute(
    app,
    {
      methods: ["get"],
      path: "/admin/listStorageUnits",
      summary: "List the storage units",
      tag,
      access: "admin",
      response: z.object({ message: z.literal("OK"), storageUnits: z.array(z.object({ name: UnitName, createdAt: z.string() })) }),
    },
    async (c) => ok(c, { storageUnits: await registryOf(c.env).listUnits() }),
  );

  defineRoute(
    app,
    { methods: ["get"], path: "/admin/getStorageUnit/{unit}", summary: "A unit's configuration, flags, settings and record / queue counts", tag, access: "admin", params: UnitParam },
    async (c, { params }) => {
      const info = unwrap(await unitOf(c.env, params.unit).info());
      return ok(c, { storageUnit: { ...info, createdAt: new Date(info.createdAt).toISOString() } });
    },
  );

  defineRoute(
    app,
    {
      methods: ["post"],
      path: "/admin/setContentProcessingModules/{unit}",
      summary: "Replace the unit's pipelines (one per scope) and unit-level module settings",
      tag,
      access: "admin",
      params: UnitParam,
      body: ModulesBody,
    },
    async (c, { params, body }) => {
      const checked = unwrap(checkModulesConfig(body, c.env as unknown as Record<string, unknown>));
      unwrap(await unitOf(c.env, params.unit).setModules(checked));
      return ok(c);
    },
  );

  defineRoute(
    app,
    { methods: ["get"], path: "/admin/getContentProcessingModules/{unit}", summary: "The unit's stored module configuration", tag, access: "admin", params: UnitParam },
    async (c, { params }) => ok(c, unwrap(await unitOf(c.env, params.unit).getModules())),
  );

  for (const flag of ["reprocessingQueue", "contentProcessing"] as const) {
    const route = flag === "reprocessingQueue" ? "enableReprocessingQueue" : "enableContentProcessing";
    defineRoute(
      app,
      {
        methods: ["put"],
        path: `/admin/${route}/{unit}/{enabled}`,
        summary: flag === "reprocessingQueue" ? "Accept (true) or refuse (false) the reprocess routes" : "Whether writes and deletes queue their scope for processing",
        tag,
        access: "admin",
        params: z.object({ unit: UnitName, enabled: BooleanParam }),
      },
      async (c, { params }) => {
        unwrap(await unitOf(c.env, params.unit).setFlag(flag, params.enabled));
        return ok(c);
      },
    );
  }

  defineRoute(
    app,
    { methods: ["put"], path: "/admin/setReprocessingSettings/{unit}", summary: "Change any of the reprocessing settings", tag, access: "admin", params: UnitParam, body: ReprocessingSettingsPatch },
    async (c, { params, body }) => ok(c, { settings: unwrap(await unitOf(c.env, params.unit).setSettings(body)) }),
  );

  defineRoute(
    app,
    { methods: ["put"], path: "/admin/setReprocessSchedule/{unit}", summary: "Run reprocess/all for a scope at cron times (UTC); an empty list removes them", tag, access: "admin", params: UnitParam, body: ScheduleBody },
    async (c, { params, body }) => ok(c, { schedules: unwrap(await unitOf(c.env, params.unit).setSchedules(body.schedules)) }),
  );

  defineRoute(
    app,
    { methods: ["get"], path: "/admin/getReprocessSchedule/{unit}", summary: "The unit's schedules with their next run times", tag, access: "admin", params: UnitParam },
    async (c, { params }) => ok(c, { schedules: unwrap(await unitOf(c.env, params.unit).getSchedules()) }),
  );
}
