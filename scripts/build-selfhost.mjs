#!/usr/bin/env node
// Bundles the self-hosted server for one runtime: `node scripts/build-selfhost.mjs node|bun|deno`
// writes dist/selfhost/<runtime>.mjs with the options of node-bundle.mjs, so no runtime needs
// a loader or an import map, and each runtime then runs plain JavaScript.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import { nodeBundleOptions, root } from "./node-bundle.mjs";

const RUNTIMES = ["node", "bun", "deno"];

/** Builds the bundle for `runtime` and returns its path. */
export async function buildSelfHost(runtime) {
  if (!RUNTIMES.includes(runtime)) throw new Error(`unknown runtime '${runtime}'; use one of ${RUNTIMES.join(", ")}`);
  const outfile = `${root}dist/selfhost/${runtime}.mjs`;
  await build({
    ...nodeBundleOptions,
    stdin: {
      contents: `import * as platform from "./src/runtime/adapters/${runtime}";\nimport { main } from "./src/runtime/start";\nawait main(platform);\n`,
      resolveDir: root,
      sourcefile: `selfhost-${runtime}.ts`,
      loader: "ts",
    },
    outfile,
    external: ["bun:*"],
    sourcemap: "linked",
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
