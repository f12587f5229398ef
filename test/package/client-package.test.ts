/**
 * `restage/client` as another project gets it (README, "Typed client"): `npm pack` of
 * packages/client (its prepack builds it), installed into a fresh project beside
 * TypeScript and Node's types, compiled by that project's strict tsconfig (nodenext, the
 * DOM lib, no skipLibCheck: test/package/consumer), then run under plain Node, Bun and Deno
 * against a live self-hosted server.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchServer, type ServerHandle } from "../e2e/servers";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TOKEN = `package-${Math.random().toString(36).slice(2)}`;
const run = promisify(execFile);
/** the repository's node (22), bun and deno first on PATH, as for the npm scripts */
const env = { ...process.env, PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH}` };
const versionOf = (name: string): string => JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")).version;

let project: string;
let server: ServerHandle;

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), "restage-consumer-"));
  const packed = await run("npm", ["pack", "--json", "--pack-destination", project], { cwd: join(ROOT, "packages/client"), env });
  const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
  cpSync(join(ROOT, "test/package/consumer"), project, { recursive: true });
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  // the compiler and Node's types at the repository's versions: from npm's cache when it has them
  const tools = [`typescript@${versionOf("typescript")}`, `@types/node@${versionOf("@types/node")}`];
  await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", `./${filename}`, ...tools], { cwd: project, env });
  server = await launchServer("node", { dataDir: join(project, "data"), token: TOKEN });
});

afterAll(async () => {
  await server?.stop();
  if (project) rmSync(project, { recursive: true, force: true });
});

describe("restage/client from another project", () => {
  it("is built JavaScript with declarations, hono its one dependency", () => {
    const manifest = JSON.parse(readFileSync(join(project, "node_modules/restage/package.json"), "utf8"));
    expect(manifest.exports["./client"]).toEqual({ types: "./dist/index.d.ts", default: "./dist/index.js" });
    expect(Object.keys(manifest.dependencies)).toEqual(["hono"]);
    const declarations = readFileSync(join(project, "node_modules/restage/dist/server-types.d.ts"), "utf8");
    expect(declarations).not.toMatch(/workers-types|DurableObject|jsx/i);
  });

  it("is the project the README shows", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    for (const file of ["main.ts", "tsconfig.json"]) expect(readme, file).toContain(readFileSync(join(ROOT, "test/package/consumer", file), "utf8"));
  });

  it("compiles under a strict nodenext tsconfig without skipLibCheck", async () => {
    // a failure shows tsc's messages; the consumer's @ts-expect-error fails the build if the routes were typed as nothing
    await expect(run(join(project, "node_modules/.bin/tsc"), ["-p", "."], { cwd: project, env })).resolves.toBeDefined();
  });

  const runtimes: Array<[name: string, command: string[]]> = [
    ["node", ["node", "dist/main.js"]],
    ["bun", ["bun", "dist/main.js"]],
    ["deno", ["deno", "run", "--allow-env=RESTAGE_URL,RESTAGE_TOKEN", "--allow-net=127.0.0.1", "dist/main.js"]],
  ];
  it.each(runtimes)("runs under %s against a live server", async (name, [command, ...args]) => {
    const unit = `from-${name}`;
    const { stdout } = await run(command!, [...args, unit], { cwd: project, env: { ...env, RESTAGE_URL: server.url, RESTAGE_TOKEN: TOKEN } });
    expect(JSON.parse(stdout.trim().split("\n").at(-1)!)).toEqual({ count: 1, title: "Hello", pending: 0, missing: "404 KEY_NOT_FOUND" });
    // the writes reached the server: what the script stored, read back over plain HTTP
    const read = await fetch(`${server.url}/access/fetch/${unit}/doc-2`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(((await read.json()) as { content: { raw: { title: string } } }).content.raw.title).toBe("Two");
  });
});
