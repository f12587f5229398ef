/** Turns zod failures into 400 `INVALID_REQUEST` whose detail names each bad field. */
import type { z } from "@hono/zod-openapi";
import { ApiError } from "../errors";

/** One line naming each bad field: `body.key: a key must not be empty; body.version: ...` */
export function describeIssues(error: z.ZodError, where: string): string {
  return error.issues
    .slice(0, 20)
    .map((issue) => {
      const field = issue.path.length > 0 ? `${where}.${issue.path.join(".")}` : where;
      // a bad record key ("Invalid key in record") carries the key schema's own message, which says how to fix it
      const inner = issue.code === "invalid_key" ? issue.issues[0]?.message : undefined;
      return `${field}: ${inner ? `invalid key: ${inner}` : issue.message}`;
    })
    .join("; ");
}

/** Parses `value` with `schema`, or throws 400 naming the fields under `where` (params, query, body, line 3). */
export function validate<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ApiError("INVALID_REQUEST", describeIssues(result.error, where));
  return result.data;
}
