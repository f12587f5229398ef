#!/usr/bin/env node
// Builds the dashboard's browser files from src/console (typed TypeScript and its CSS) into
// dist/console/app.js and app.css. The Worker and the self-hosted servers import those two
// files as text and serve them (src/routes/dashboard/assets.ts). Run by wrangler before
// `wrangler dev` and `wrangler deploy` (wrangler.toml [build]), by every Node bundle of the
// app (node-bundle.mjs) and by the vitest configs (test/support/worker-config.ts).
import { build, buildSync } from "esbuild";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

const options = {
  absWorkingDir: root,
  entryPoints: ["src/console/app.ts", "src/console/app.css"],
  outdir: "dist/console",
  entryNames: "[name]",
  bundle: true,
  format: "iife",
  target: "es2022",
  minify: true,
  legalComments: "none",
  logLevel: "warning",
};

/** Writes dist/console/app.js and dist/console/app.css. */
export async function buildConsole() {
  await build(options);
}

/** The same, synchronously: for config files that cannot wait. */
export function buildConsoleSync() {
  buildSync(options);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    await buildConsole();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
