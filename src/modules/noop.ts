import { z } from "@hono/zod-openapi";
import { defineModule } from "./types";

/** Does nothing: a pipeline that only marks its items processed (benchmarks, placeholders). */
export const Noop = defineModule({
  name: "Noop",
  description: "Does nothing; items complete as processed.",
  settings: z.object({}).strict(),
  create: () => ({ process() {} }),
});
