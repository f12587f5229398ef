/** Describing zod validation failures for a client: shared by the HTTP layer and the module settings checks. */
import type { z } from "@hono/zod-openapi";

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
