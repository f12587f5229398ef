import { z } from "@hono/zod-openapi";
import { defineModule } from "./types";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Fails on demand, for testing failure handling: fails chosen items, throws from a chosen
 * event (failing the whole batch), or stalls on chosen keys as a hung publisher would.
 */
export const Fault = defineModule({
  name: "Fault",
  description: "Fails on demand: failKeys fail those items, throwIn throws from that event, stallKeys wait stallMs on those items.",
  settings: z
    .object({
      failKeys: z.array(z.string()).default([]),
      failAll: z.boolean().default(false),
      error: z.string().max(1000).default("failed on demand"),
      throwIn: z.enum(["batchStart", "process", "batchEnd"]).optional(),
      stallKeys: z.array(z.string()).default([]),
      stallMs: z.number().int().min(0).max(900_000).default(0),
    })
    .strict(),
  create: ({ settings }) => {
    const failKeys = new Set(settings.failKeys);
    const stallKeys = new Set(settings.stallKeys);
    return {
      batchStart() {
        if (settings.throwIn === "batchStart") throw new Error(settings.error);
      },
      async process(item) {
        if (stallKeys.has(item.key)) await sleep(settings.stallMs);
        if (settings.throwIn === "process") throw new Error(settings.error);
        if (settings.failAll || failKeys.has(item.key)) item.fail(settings.error);
      },
      batchEnd() {
        if (settings.throwIn === "batchEnd") throw new Error(settings.error);
      },
    };
  },
});
