/**
 * The Worker as wrangler.toml declares it (entry, compatibility, Durable Objects, crons),
 * for the vitest configs, without the developer's local secrets. Given `wrangler:
 * { configPath }`, the vitest plugin has wrangler read `.dev.vars` beside wrangler.toml,
 * so a developer's own ADMIN_TOKEN or endpoint secrets would reach the tests (and print
 * "Using secrets defined in .dev.vars" in every file). Given env files, wrangler reads
 * those instead: the one named here does not exist, so the tests see only the bindings
 * their config sets.
 */
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { buildAssetsSync } from "../../scripts/build-assets.mjs";

const NO_LOCAL_SECRETS = "test/support/no-local-secrets.env";

/** `main` and the Miniflare options of the Worker, to spread into `cloudflareTest`'s options. */
export function workerFromWrangler(): { main: string | undefined; miniflare: Record<string, unknown> & { bindings: Record<string, unknown> } } {
  // the Worker's static files, served through its ASSETS binding (wrangler.toml [build] makes them for wrangler itself)
  buildAssetsSync();
  // the option behind `wrangler dev --env-file`; this entry point reads it but does not declare it
  const options = { overrides: {}, envFiles: [NO_LOCAL_SECRETS] };
  const { main, workerOptions } = unstable_getMiniflareWorkerOptions("./wrangler.toml", undefined, options);
  // wrangler.toml's [[rules]] (and wrangler's defaults) pass through: the tests import modules as wrangler bundles them
  const miniflare = workerOptions;
  return { main, miniflare: { ...miniflare, bindings: { ...(miniflare.bindings as Record<string, unknown>) } } };
}
