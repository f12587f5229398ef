/** Reaching a unit's Durable Object from a route. */
import type { Context } from "hono";
import type { AppEnv } from "../http/route";

export function unitStub(c: Context<AppEnv>, name: string) {
  return c.env.STORAGE_UNIT.get(c.env.STORAGE_UNIT.idFromName(name));
}

/** `{"message":"OK", ...fields}` */
export function ok(c: Context, fields: object = {}): Response {
  return c.json({ message: "OK", ...fields });
}
