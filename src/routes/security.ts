/**
 * Security API (API.md, "Security API"): users with their own tokens and per-unit grants.
 * The registry keeps the users and pushes each change to the units concerned, which check
 * user requests themselves. All of these routes need the admin token, but `whoami`, which
 * any valid token may ask (API.md, "Runs, progress and metrics").
 */
import { z } from "@hono/zod-openapi";
import type { Schema } from "hono";
import { unwrap } from "../errors";
import { Ok, Permission, TokenAnswer, UsersAnswer, WhoamiAnswer } from "../http/answers";
import { newUserToken, tokenHash } from "../http/user-tokens";
import { routes, type App } from "../http/route";
import { registryOf } from "../bindings";
import type { Env } from "../env";
import { UnitName, UserName } from "../schemas";
import { unauthorized } from "../http/user-access";
import { ok } from "./units";

const tag = "Security";
const access = "admin";

const UserParam = z.object({ user: UserName });
const UserUnitParam = z.object({ user: UserName, unit: UnitName });
const grantRoute = {
  path: "/security/add/{permission}/{user}/{unit}",
  summary: "Grant a user r, w or rw on a storage unit (replaces its grant there)",
  tag,
  access,
  params: z.object({ permission: Permission, user: UserName, unit: UnitName }),
  answer: Ok,
  errors: ["USER_NOT_FOUND", "STORAGE_UNIT_DOESNT_EXIST"],
} as const;

async function grant(env: Env, params: z.output<typeof grantRoute.params>) {
  unwrap(await registryOf(env).grant(params.user, params.unit, params.permission));
}

export function securityRoutes<S extends Schema>(app: App<S>) {
  return routes(app)
    .add(
      {
        method: "get",
        path: "/security/whoami",
        operationId: "whoami",
        summary: "Who the token is and what it may do: admin, or a user and its grants",
        description: "Any valid token may ask, so a client (the dashboard) can show only what the token may do.",
        tag,
        access: "token",
        answer: WhoamiAnswer,
      },
      async (c) => {
        const caller = c.var.caller;
        if (caller.kind === "admin") return ok(c, { admin: true, user: null, grants: {} });
        // the token carries this server's MAC, but its user may have been removed or given a new token since
        const user = await registryOf(c.env).whoami(caller.tokenHash);
        if (user === null) throw unauthorized();
        return ok(c, { admin: false, user: user.name, grants: user.grants });
      },
    )
    .add(
      {
        method: "put",
        path: "/security/user/{user}",
        operationId: "putUser",
        summary: "Create a user, or give it a new token (the old one stops working)",
        description: "The token is shown in this answer only; the server keeps its SHA-256 hash.",
        tag,
        access,
        params: UserParam,
        answer: TokenAnswer,
      },
      async (c) => {
        const token = await newUserToken(c.env);
        await registryOf(c.env).putUser(c.req.valid("param").user, await tokenHash(token));
        return ok(c, { token });
      },
    )
    .add(
      {
        method: "get",
        path: "/security/users",
        operationId: "listUsers",
        summary: "The users and their grants (never their tokens)",
        tag,
        access,
        answer: UsersAnswer,
      },
      async (c) => ok(c, { users: await registryOf(c.env).listUsers() }),
    )
    .add({ ...grantRoute, method: "put", operationId: "grant" }, async (c) => {
      await grant(c.env, c.req.valid("param"));
      return ok(c);
    })
    .add({ ...grantRoute, method: "get", operationId: "grantGet" }, async (c) => {
      await grant(c.env, c.req.valid("param"));
      return ok(c);
    })
    .add(
      {
        method: "delete",
        path: "/security/remove/{user}/{unit}",
        operationId: "revoke",
        summary: "Revoke a user's grant on a storage unit, from the next request on",
        tag,
        access,
        params: UserUnitParam,
        answer: Ok,
        errors: ["USER_NOT_FOUND"],
      },
      async (c) => {
        const { user, unit } = c.req.valid("param");
        unwrap(await registryOf(c.env).revoke(user, unit));
        return ok(c);
      },
    )
    .add(
      {
        method: "delete",
        path: "/security/user/{user}",
        operationId: "deleteUser",
        summary: "Remove a user with its token and grants",
        tag,
        access,
        params: UserParam,
        answer: Ok,
        errors: ["USER_NOT_FOUND"],
      },
      async (c) => {
        unwrap(await registryOf(c.env).deleteUser(c.req.valid("param").user));
        return ok(c);
      },
    ).app;
}
