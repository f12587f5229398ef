#!/usr/bin/env node
// Builds the dashboard's browser files from src/console (typed TypeScript and its CSS) into
// dist/assets/dashboard (app.js, app.css), static files served as /dashboard/app.js and
// /dashboard/app.css. Run as part of build-assets.mjs, which fills dist/assets.
import { build, buildSync } from "esbuild";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

const options = {
  absWorkingDir: root,
  entryPoints: ["src/console/app.ts", "src/console/app.css"],
  outdir: "dist/assets/dashboard",
  entryNames: "[name]",
  bundle: true,
  format: "iife",
  target: "es2022",
  minify: true,
  legalComments: "none",
  logLevel: "warning",
};

/** Writes dist/assets/dashboard. */
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
