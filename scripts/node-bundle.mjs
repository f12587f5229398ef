// The esbuild options every Node-platform bundle of the app shares (the self-hosted servers,
// the OpenAPI lint): the one Workers-only import, "cloudflare:workers", resolved to
// src/runtime/shim.ts, Scalar's browser bundle read as text, as wrangler.toml's [[rules]]
// has the Worker read it, and the console's files built first (build-console.mjs).
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { buildConsole } from "./build-console.mjs";

export const root = fileURLToPath(new URL("..", import.meta.url));

const scalarAsText = {
  name: "scalar-as-text",
  setup(build) {
    build.onLoad({ filter: /[\\/]api-reference[\\/]dist[\\/]browser[\\/]standalone\.js$/ }, async (args) => ({
      contents: await readFile(args.path, "utf8"),
      loader: "text",
    }));
  },
};

const consoleBuilt = {
  name: "console-built",
  setup(build) {
    build.onStart(() => buildConsole());
  },
};

/** esbuild options for an ES module bundle that runs on Node, Bun or Deno. */
export const nodeBundleOptions = {
  absWorkingDir: root,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "es2022",
  alias: { "cloudflare:workers": "./src/runtime/shim.ts" },
  plugins: [scalarAsText, consoleBuilt],
  // a CommonJS dependency's require() of a Node built-in needs a require in an ES module
  banner: { js: 'import { createRequire as __restageRequire } from "node:module"; const require = __restageRequire(import.meta.url);' },
  logLevel: "warning",
};
