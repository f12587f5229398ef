/**
 * The four servers the end-to-end suite runs against, started as a person would: the
 * package scripts for Node, Bun and Deno (`npm run serve:<runtime>`), and `wrangler dev`
 * with its state persisted to a folder; all with the test modules on (RESTAGE_TEST_MODULES).
 * Each runs in its own process group, so a SIGKILL takes down the whole tree (npm, the
 * runtime, workerd) at once, as a crash would.
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

export const SERVER_KINDS = ["wrangler", "node", "bun", "deno"] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** wrangler dev compiles and boots workerd: it needs far longer than the plain runtimes. */
const READY_TIMEOUT_MS: Record<ServerKind, number> = { wrangler: 120_000, node: 30_000, bun: 30_000, deno: 30_000 };
const STOP_TIMEOUT_MS = 10_000;
const OUTPUT_KEPT = 20_000;

export interface ServerHandle {
  readonly kind: ServerKind;
  readonly url: string;
  readonly dataDir: string;
  /** SIGTERM to the process group, SIGKILL if it lingers. */
  stop(): Promise<void>;
  /** SIGKILL to the process group: no chance to flush or close anything. */
  kill(): Promise<void>;
  /** the last lines the server printed, for failure messages */
  output(): string;
}

export function isServerKind(value: string): value is ServerKind {
  return (SERVER_KINDS as readonly string[]).includes(value);
}

/** What a server is started with; `vars`: more variables for the Worker (`--var` for wrangler dev, the environment for the others). */
export interface LaunchOptions {
  dataDir: string;
  token: string;
  vars?: Record<string, string>;
  /** the process's limit of open files (`ulimit -n`), for the self-hosted servers */
  fileLimit?: number;
}

/** Starts a server of `kind` on a free port over `dataDir`; resolves once `GET /health` answers. */
export async function launchServer(kind: ServerKind, options: LaunchOptions): Promise<ServerHandle> {
  const port = await freePort();
  const child = spawnServer(kind, port, options);
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_KEPT);
    if (process.env.RESTAGE_E2E_VERBOSE) process.stderr.write(chunk);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // the group is already gone
    }
  };
  const handle: ServerHandle = {
    kind,
    url: `http://127.0.0.1:${port}`,
    dataDir: options.dataDir,
    async stop() {
      signalGroup("SIGTERM");
      const timer = setTimeout(() => signalGroup("SIGKILL"), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
      signalGroup("SIGKILL");
      await groupGone(child.pid!);
    },
    async kill() {
      signalGroup("SIGKILL");
      await exited;
      // the leader's children (the runtime under npm, workerd under wrangler) may outlive it by a
      // moment, still holding the data folder: the next server must not start beside them
      await groupGone(child.pid!);
    },
    output: () => output,
  };
  try {
    await waitForHealth(handle, child, READY_TIMEOUT_MS[kind]);
  } catch (error) {
    await handle.kill();
    throw error;
  }
  return handle;
}

function spawnServer(kind: ServerKind, port: number, { dataDir, token, vars = {}, fileLimit }: LaunchOptions): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, WRANGLER_SEND_METRICS: "false" };
  // the test runner's own variables are not the server's business
  for (const name of Object.keys(env)) if (name.startsWith("VITEST") || name === "NODE_OPTIONS") delete env[name];
  const common: SpawnOptions = { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] };
  if (kind === "wrangler") {
    const inspectorPort = port + 1;
    const args = ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort), "--persist-to", dataDir];
    args.push("--var", `ADMIN_TOKEN:${token}`, "--var", "RESTAGE_TEST_MODULES:true", "--show-interactive-dev-session=false");
    for (const [name, value] of Object.entries(vars)) args.push("--var", `${name}:${value}`);
    // wrangler needs Node 22: the runner's own node, not whatever `node` is first on PATH
    return spawn(process.execPath, [`${ROOT}node_modules/wrangler/bin/wrangler.js`, ...args], { ...common, env });
  }
  Object.assign(env, { PORT: String(port), HOST: "127.0.0.1", ADMIN_TOKEN: token, RESTAGE_DATA_DIR: dataDir, RESTAGE_TEST_MODULES: "true" }, vars);
  // through npm, as a person would run it; npm_execpath is npm itself when the suite was started by npm
  const npm = process.env.npm_execpath;
  const args = ["run", "--silent", `serve:${kind}`];
  const command = npm?.endsWith(".js") ? [process.execPath, npm, ...args] : ["npm", ...args];
  // bash sets the limit (soft and hard) and becomes the command, so the server runs under it
  if (fileLimit !== undefined) return spawn("bash", ["-c", `ulimit -n ${fileLimit} && exec "$@"`, "bash", ...command], { ...common, env });
  return spawn(command[0]!, command.slice(1), { ...common, env });
}

/** Resolves once no live process is left in the process group (zombies aside); gives up after STOP_TIMEOUT_MS. */
async function groupGone(pgid: number): Promise<void> {
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (Date.now() < deadline && liveMembers(pgid) > 0) await new Promise((resolve) => setTimeout(resolve, 50));
}

/** How many processes of group `pgid` are still running, from /proc (Linux); 0 where /proc is missing. */
function liveMembers(pgid: number): number {
  let count = 0;
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return 0;
  }
  for (const pid of entries) {
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces, so read after the last ')'
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const [state, , group] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(group) === pgid && state !== "Z" && state !== "X") count++;
    } catch {
      // the process ended while we looked
    }
  }
  return count;
}

async function waitForHealth(handle: ServerHandle, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the ${handle.kind} server exited (${child.exitCode ?? child.signalCode}) before answering:\n${handle.output()}`);
    }
    try {
      const response = await fetch(`${handle.url}/health`, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the ${handle.kind} server did not answer GET /health within ${timeoutMs} ms:\n${handle.output()}`);
}

/** A port free on 127.0.0.1 now, with the next one free too (wrangler's inspector takes it). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await listenOnce(0);
    if (
      await listenOnce(port + 1).then(
        () => true,
        () => false,
      )
    )
      return port;
  }
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}
