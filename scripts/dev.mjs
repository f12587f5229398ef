#!/usr/bin/env node
// `npm run dev`: wrangler dev on 127.0.0.1:8787. The admin token comes from .dev.vars;
// on the first run, when that file is missing, one is written with a random token.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";

const varsFile = new URL("../.dev.vars", import.meta.url);
if (!existsSync(varsFile)) {
  const token = randomBytes(24).toString("base64url");
  writeFileSync(varsFile, `ADMIN_TOKEN=${token}\n`, { mode: 0o600 });
  console.log(`Wrote .dev.vars with a new admin token:\n\n  ADMIN_TOKEN=${token}\n\nSend it as: Authorization: Bearer ${token}\n`);
}

const args = ["dev", "--ip", "127.0.0.1", "--port", process.env.PORT ?? "8787", "--test-scheduled", ...process.argv.slice(2)];
const child = spawn("wrangler", args, {
  stdio: "inherit",
  shell: process.platform === "win32",
  // wrangler's local trace collector costs about ten times the ingest rate (README, "Performance"); X_LOCAL_OBSERVABILITY=true brings it back
  env: { WRANGLER_SEND_METRICS: "false", X_LOCAL_OBSERVABILITY: "false", ...process.env },
});
child.on("exit", (code, signal) => process.exit(signal ? 1 : (code ?? 0)));
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
