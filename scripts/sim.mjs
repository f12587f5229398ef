#!/usr/bin/env node
// The shard protocol's simulation from the command line (test/sim/README in the README's
// "Deterministic simulation"): `npm run sim -- --seeds N [--from S] [--scenario NAME|--all]
// [--trace K]`. Bundles test/sim/cli.ts with the app and runs it in this process.
import { build } from "esbuild";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { root } from "./node-bundle.mjs";

const dir = mkdtempSync(join(tmpdir(), "restage-sim-build-"));
const outfile = join(dir, "sim.mjs");
try {
  await build({
    absWorkingDir: root,
    entryPoints: ["test/sim/cli.ts"],
    bundle: true,
    format: "esm",
    platform: "node",
    target: "es2022",
    alias: { "cloudflare:workers": "./src/runtime/shim.ts" },
    banner: { js: 'import { createRequire as __restageRequire } from "node:module"; const require = __restageRequire(import.meta.url);' },
    outfile,
    logLevel: "warning",
  });
  const { main } = await import(pathToFileURL(outfile).href);
  process.exitCode = await main(process.argv.slice(2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
