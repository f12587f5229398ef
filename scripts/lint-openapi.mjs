#!/usr/bin/env node
// Lints the served OpenAPI document with Redocly's recommended rules (API.md, "Typed API"):
// builds the app for Node (as the self-hosted bundle does), asks it for /openapi.json
// in-process, writes the document to a temporary file and runs `redocly lint` on it.
// Offline: no server, no network (Redocly's telemetry and update check are off).
// `node scripts/lint-openapi.mjs [--keep out.json]` keeps the document where told.
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { nodeBundleOptions, root } from "./node-bundle.mjs";

const dir = mkdtempSync(join(tmpdir(), "restage-openapi-"));
try {
  const bundle = join(dir, "app.mjs");
  await build({
    ...nodeBundleOptions,
    stdin: { contents: 'export { createApp } from "./src/app";', resolveDir: root, sourcefile: "openapi-app.ts", loader: "ts" },
    outfile: bundle,
  });
  const { createApp } = await import(pathToFileURL(bundle).href);
  const response = await createApp().request("http://127.0.0.1:8787/openapi.json");
  if (response.status !== 200) throw new Error(`GET /openapi.json answered ${response.status}: ${await response.text()}`);
  const text = JSON.stringify(await response.json(), null, 2);
  writeFileSync(join(dir, "openapi.json"), text);
  const keepAt = process.argv.indexOf("--keep");
  if (keepAt > 0) writeFileSync(process.argv[keepAt + 1], text);
  // Redocly reads its config and the ignore file (the warnings accepted, with their reasons) beside the document
  for (const file of ["redocly.yaml", ".redocly.lint-ignore.yaml"]) copyFileSync(join(root, file), join(dir, file));
  const redocly = join(root, "node_modules", ".bin", "redocly");
  const result = spawnSync(
    redocly,
    ["lint", "--format", "stylish", ...process.argv.slice(2).filter((arg) => arg.startsWith("--generate")), "openapi.json"],
    {
      cwd: dir,
      stdio: "inherit",
      env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
    },
  );
  process.exitCode = result.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
