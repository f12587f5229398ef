#!/usr/bin/env node
// Bundles the self-hosted server for one runtime: `node scripts/build-selfhost.mjs node|bun|deno`
// writes dist/selfhost/<runtime>.mjs. The one Workers-only import, "cloudflare:workers", is
// resolved here to src/runtime/shim.ts, so no runtime needs a loader or an import map, and
// each runtime then runs plain JavaScript.
import { build } from "esbuild";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const RUNTIMES = ["node", "bun", "deno"];

/** Scalar's browser bundle, served by GET /docs, is read as text, as wrangler.toml's [[rules]] has the Worker read it. */
const scalarAsText = {
  name: "scalar-as-text",
  setup(build) {
    build.onLoad({ filter: /[\\/]api-reference[\\/]dist[\\/]browser[\\/]standalone\.js$/ }, async (args) => ({
      contents: await readFile(args.path, "utf8"),
      loader: "text",
    }));
  },
};

/** Builds the bundle for `runtime` and returns its path. */
export async function buildSelfHost(runtime) {
  if (!RUNTIMES.includes(runtime)) throw new Error(`unknown runtime '${runtime}'; use one of ${RUNTIMES.join(", ")}`);
  const root = fileURLToPath(new URL("..", import.meta.url));
  const outfile = `${root}dist/selfhost/${runtime}.mjs`;
  await build({
    absWorkingDir: root,
    stdin: {
      contents: `import * as platform from "./src/runtime/adapters/${runtime}";\nimport { main } from "./src/runtime/start";\nawait main(platform);\n`,
      resolveDir: root,
      sourcefile: `selfhost-${runtime}.ts`,
      loader: "ts",
    },
    bundle: true,
    format: "esm",
    platform: "node",
    target: "es2022",
    outfile,
    alias: { "cloudflare:workers": "./src/runtime/shim.ts" },
    external: ["bun:*"],
    plugins: [scalarAsText],
    // a CommonJS dependency's require() of a Node built-in needs a require in an ES module
    banner: { js: 'import { createRequire as __restageRequire } from "node:module"; const require = __restageRequire(import.meta.url);' },
    sourcemap: "linked",
    logLevel: "warning",
  });
  return outfile;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const runtime = process.argv[2];
  try {
    await buildSelfHost(runtime);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
