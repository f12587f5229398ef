/**
 * The self-hosted servers' ASSETS binding (src/runtime/assets.ts): the files of a folder by
 * path, and nothing outside it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { folderAssets } from "../../src/runtime/assets";

const root = mkdtempSync(join(tmpdir(), "restage-assets-"));
const folder = join(root, "assets");
mkdirSync(join(folder, "docs"), { recursive: true });
writeFileSync(join(folder, "docs/scalar.js"), "console.log('scalar');");
writeFileSync(join(folder, "docs/app.css"), "body{}");
writeFileSync(join(root, "secret.txt"), "not served");
const assets = folderAssets(folder);
const get = (path: string, method = "GET") => assets.fetch(new Request(`http://127.0.0.1${path}`, { method }));

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("the self-hosted static files", () => {
  it("answers a file by its path, typed by its extension", async () => {
    const script = await get("/docs/scalar.js");
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await script.text()).toBe("console.log('scalar');");
    expect((await get("/docs/app.css")).headers.get("content-type")).toBe("text/css; charset=utf-8");
  });

  it("answers HEAD with the length and no body", async () => {
    const head = await get("/docs/scalar.js", "HEAD");
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe("22");
    expect(await head.text()).toBe("");
  });

  it("is 404 for a missing file, a folder, or a path that climbs out of the folder", async () => {
    for (const path of ["/docs/missing.js", "/docs", "/docs/%2E%2E/%2E%2E/secret.txt", "/..%2Fsecret.txt"]) {
      expect((await get(path)).status, path).toBe(404);
    }
  });

  it("refuses other methods", async () => {
    expect((await get("/docs/scalar.js", "POST")).status).toBe(405);
  });
});
