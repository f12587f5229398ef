#!/usr/bin/env node
// Builds the dashboard's browser files from src/console (typed TypeScript and its CSS) and
// writes them, as two string constants, into the ES module dist/console/assets.js, which the
// app imports and serves (src/routes/dashboard/assets.ts). A plain module rather than text
// files: wrangler, the vitest pool (which applies wrangler's text [[rules]] only to
// node_modules) and esbuild all import it as it is. Run by wrangler before `wrangler dev`
// and `wrangler deploy` (wrangler.toml [build]), by every Node bundle of the app
// (node-bundle.mjs) and by the vitest configs (test/support/worker-config.ts).
import { build, buildSync } from "esbuild";
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

const options = {
  absWorkingDir: root,
  entryPoints: ["src/console/app.ts", "src/console/app.css"],
  outdir: "dist/console",
  entryNames: "[name]",
  write: false,
  bundle: true,
  format: "iife",
  target: "es2022",
  minify: true,
  legalComments: "none",
  logLevel: "warning",
};

/** Writes dist/console/assets.js. */
export async function buildConsole() {
  writeModule(await build(options));
}

/** The same, synchronously: for config files that cannot wait. */
export function buildConsoleSync() {
  writeModule(buildSync(options));
}

function writeModule({ outputFiles }) {
  const text = (extension) => outputFiles.find((file) => file.path.endsWith(extension)).text;
  mkdirSync(`${root}dist/console`, { recursive: true });
  writeFileSync(
    `${root}dist/console/assets.js`,
    `// built from src/console by scripts/build-console.mjs: do not edit\nexport const CONSOLE_SCRIPT = ${JSON.stringify(text(".js"))};\nexport const CONSOLE_STYLES = ${JSON.stringify(text(".css"))};\n`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    await buildConsole();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
