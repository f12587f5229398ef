/** Turns zod failures into 400 `INVALID_REQUEST` whose detail names each bad field. */
import type { z } from "@hono/zod-openapi";
import { ApiError } from "../errors";
import { describeIssues } from "../zod-issues";

/** Parses `value` with `schema`, or throws 400 naming the fields under `where` (params, query, body, line 3). */
export function validate<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ApiError("INVALID_REQUEST", describeIssues(result.error, where));
  return result.data;
}
