/**
 * The Worker's script stays small: the pages' bundles go up as Workers Static Assets
 * (wrangler.toml [assets]), not inside the script, which every cold isolate must load.
 * Measured as `wrangler deploy --dry-run --outdir` writes it (README, "Deploying").
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MAX_SCRIPT_BYTES = 1.5 * 1024 * 1024;
const out = mkdtempSync(join(tmpdir(), "restage-worker-"));

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("the Worker upload", () => {
  it(`keeps the script within ${MAX_SCRIPT_BYTES / 1024 / 1024} MiB, with the pages' files as assets`, async () => {
    const wrangler = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
    const { stdout } = await promisify(execFile)(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", out], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    });
    expect(stdout).toMatch(/Read \d+ files from the assets directory/);
    const scripts = readdirSync(out).filter((name) => name.endsWith(".js"));
    expect(scripts).toEqual(["index.js"]);
    expect(statSync(join(out, "index.js")).size).toBeLessThanOrEqual(MAX_SCRIPT_BYTES);
  });
});
