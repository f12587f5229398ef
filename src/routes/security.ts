/**
 * Security API (API.md, "Security API"): users with their own tokens and per-unit grants.
 * The registry keeps the users and pushes each change to the units concerned, which check
 * user requests themselves. All of these routes need the admin token.
 */
import { z } from "@hono/zod-openapi";
import { unwrap } from "../errors";
import { newUserToken, tokenHash } from "../http/user-tokens";
import { defineRoute, type App } from "../http/route";
import { registryOf } from "../bindings";
import { UnitName, UserName } from "../schemas";
import { ok } from "./units";

const tag = "Security";

const Permission = z.enum(["r", "w", "rw"]).openapi({ description: "r: access/*, reprocess/status, reprocess/failed; w: transaction/* and the other reprocess/* routes; rw: both" });
const UserParam = z.object({ user: UserName });
const UserUnitParam = z.object({ user: UserName, unit: UnitName });

export function securityRoutes(app: App): void {
  defineRoute(
    app,
    {
      methods: ["put"],
      path: "/security/user/{user}",
      summary: "Create a user, or give it a new token (the old one stops working)",
      description: "The token is shown in this answer only; the server keeps its SHA-256 hash.",
      tag,
      access: "admin",
      params: UserParam,
      response: z.object({ message: z.literal("OK"), token: z.string() }),
    },
    async (c, { params }) => {
      const token = await newUserToken(c.env);
      await registryOf(c.env).putUser(params.user, await tokenHash(token));
      return ok(c, { token });
    },
  );

  defineRoute(
    app,
    {
      methods: ["get"],
      path: "/security/users",
      summary: "The users and their grants (never their tokens)",
      tag,
      access: "admin",
      response: z.object({ message: z.literal("OK"), users: z.array(z.object({ name: UserName, grants: z.record(UnitName, Permission) })) }),
    },
    async (c) => ok(c, { users: await registryOf(c.env).listUsers() }),
  );

  defineRoute(
    app,
    {
      methods: ["put", "get"],
      path: "/security/add/{permission}/{user}/{unit}",
      summary: "Grant a user r, w or rw on a storage unit (replaces its grant there)",
      tag,
      access: "admin",
      params: z.object({ permission: Permission, user: UserName, unit: UnitName }),
    },
    async (c, { params }) => {
      unwrap(await registryOf(c.env).grant(params.user, params.unit, params.permission));
      return ok(c);
    },
  );

  defineRoute(
    app,
    { methods: ["delete"], path: "/security/remove/{user}/{unit}", summary: "Revoke a user's grant on a storage unit, from the next request on", tag, access: "admin", params: UserUnitParam },
    async (c, { params }) => {
      unwrap(await registryOf(c.env).revoke(params.user, params.unit));
      return ok(c);
    },
  );

  defineRoute(
    app,
    { methods: ["delete"], path: "/security/user/{user}", summary: "Remove a user with its token and grants", tag, access: "admin", params: UserParam },
    async (c, { params }) => {
      unwrap(await registryOf(c.env).deleteUser(params.user));
      return ok(c);
    },
  );
}
