#!/usr/bin/env node
// Fills dist/assets, the static files of the pages: Scalar's browser bundle for /docs
// (docs/scalar.js) and the console's script and styles for /dashboard (dashboard/app.js,
// dashboard/app.css, built by build-console.mjs). The Worker serves the folder as Workers
// Static Assets (wrangler.toml [assets], filled by its [build] before `wrangler dev` and
// `wrangler deploy`), the self-hosted servers from disk (src/runtime/assets.ts, their bundle
// builds it: node-bundle.mjs), and the vitest pool gets it through test/support/worker-config.ts.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { buildConsole, buildConsoleSync } from "./build-console.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
export const ASSETS_DIR = `${root}dist/assets`;

/** Writes dist/assets. */
export async function buildAssets() {
  copyScalar();
  await buildConsole();
}

/** The same, synchronously: for config files that cannot wait. */
export function buildAssetsSync() {
  copyScalar();
  buildConsoleSync();
}

/** Scalar's self-contained browser build, without its source-map comment: the map is not served, so devtools would ask for it in vain. */
function copyScalar() {
  // the package exports no subpath for it: read from where it is installed
  const text = readFileSync(`${root}node_modules/@scalar/api-reference/dist/browser/standalone.js`, "utf8").replace(
    /\n\/\/# sourceMappingURL=\S+\s*$/,
    "\n",
  );
  mkdirSync(`${ASSETS_DIR}/docs`, { recursive: true });
  writeFileSync(`${ASSETS_DIR}/docs/scalar.js`, text);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    await buildAssets();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
