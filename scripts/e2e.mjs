#!/usr/bin/env node
// `npm run test:e2e` runs the tests of the self-hosted host (test/runtime), what gets
// shipped (test/package: the typed client as another project installs it, the Worker
// script's size), then the end-to-end suite (test/e2e) against each server in turn:
// wrangler dev, then the self-hosted Node, Bun and Deno servers (all in plain Node:
// vitest.e2e.config.ts).
// `npm run test:e2e -- node deno` runs it against those only.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const KINDS = ["wrangler", "node", "bun", "deno"];
const chosen = process.argv.slice(2);
const unknown = chosen.filter((kind) => !KINDS.includes(kind));
if (unknown.length > 0) {
  console.error(`unknown server kind(s): ${unknown.join(", ")}; choose from ${KINDS.join(", ")}`);
  process.exit(2);
}

const root = fileURLToPath(new URL("..", import.meta.url));
const vitest = fileURLToPath(new URL("../node_modules/vitest/vitest.mjs", import.meta.url));
const runVitest = (project, env = {}) =>
  spawnSync(process.execPath, [vitest, "run", "--config", "vitest.e2e.config.ts", "--project", project], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, ...env },
  }).status === 0;

console.log("\n=== the self-hosted Durable Object host, on Node ===");
const outcomes = [{ kind: "host", ok: runVitest("host") }];
console.log("\n=== what gets shipped: restage/client from another project, the Worker's size ===");
outcomes.push({ kind: "package", ok: runVitest("package") });
for (const kind of chosen.length > 0 ? chosen : KINDS) {
  console.log(`\n=== end-to-end suite against ${kind} ===`);
  outcomes.push({ kind, ok: runVitest("e2e", { RESTAGE_E2E_SERVER: kind }) });
}

console.log(`\nend-to-end: ${outcomes.map(({ kind, ok }) => `${kind} ${ok ? "ok" : "FAILED"}`).join(", ")}`);
process.exit(outcomes.every(({ ok }) => ok) ? 0 : 1);
