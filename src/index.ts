/** The Worker entry: HTTP through the Hono app, the cron trigger, and the Durable Object classes. */
import { createApp } from "./app";
import { runCronTick } from "./cron";
import type { Env } from "./env";

export { StorageUnit } from "./unit/storage-unit";
export { Registry } from "./registry/registry";

const app = createApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
  scheduled: async (controller, env, ctx) => {
    ctx.waitUntil(runCronTick(env, controller.scheduledTime));
  },
} satisfies ExportedHandler<Env>;
