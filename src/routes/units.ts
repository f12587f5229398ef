/** Reaching a unit's Durable Object from a route. */
import type { Context } from "hono";
import type { AppEnv } from "../http/route";
import { guardUnit } from "../http/user-access";

/** The unit's stub; with a user's token, each call is checked against the unit's grants (see user-access.ts). */
export function unitStub(c: Context<AppEnv>, name: string) {
  return guardUnit(c, name, c.env.STORAGE_UNIT.get(c.env.STORAGE_UNIT.idFromName(name)));
}

/** `{"message":"OK", ...fields}` */
export function ok(c: Context, fields: object = {}): Response {
  return c.json({ message: "OK", ...fields });
}
