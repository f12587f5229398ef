// The esbuild options every Node-platform bundle of the app shares (the self-hosted servers,
// the OpenAPI lint): the one Workers-only import, "cloudflare:workers", resolved to
// src/runtime/shim.ts, and the pages' static files built first into dist/assets
// (build-assets.mjs), which the self-hosted servers serve from disk.
import { fileURLToPath } from "node:url";
import { buildAssets } from "./build-assets.mjs";

export const root = fileURLToPath(new URL("..", import.meta.url));

const assetsBuilt = {
  name: "assets-built",
  setup(build) {
    build.onStart(() => buildAssets());
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
  plugins: [assetsBuilt],
  // a CommonJS dependency's require() of a Node built-in needs a require in an ES module
  banner: { js: 'import { createRequire as __restageRequire } from "node:module"; const require = __restageRequire(import.meta.url);' },
  logLevel: "warning",
};
