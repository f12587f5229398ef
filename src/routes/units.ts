/** What the route groups share: the `{"message":"OK"}` answer. */
import type { Context } from "hono";

/** `{"message":"OK", ...fields}` */
export function ok(c: Context, fields: object = {}): Response {
  return c.json({ message: "OK", ...fields });
}
