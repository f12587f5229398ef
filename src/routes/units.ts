/** What the route groups share: the `{"message":"OK"}` answer. */
import type { Context } from "hono";

/**
 * `{"message":"OK", ...fields}` with status 200, typed so the operation's answer schema checks it.
 * @example return ok(c, { queued: 3 });
 */
// biome-ignore lint/suspicious/noExplicitAny: any context: the route's own env, path and input decide nothing here
export function ok<C extends Context<any, any, any>, T extends object = Record<never, never>>(c: C, fields?: T) {
  return c.json({ message: "OK" as const, ...(fields as T) }, 200);
}
