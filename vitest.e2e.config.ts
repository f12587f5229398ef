import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin, type TestProjectInlineConfiguration } from "vitest/config";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/**
 * The `shards` project's stand-ins for the Workers runtime's modules: the app's code gets
 * the self-hosted shim for `cloudflare:workers`, as the self-hosted bundles do; the tests
 * get the Worker and its bindings on the self-hosted host (test/support/node-workers.ts)
 * and the Workers test pool's calls (test/support/node-test.ts).
 */
const workersInNode: Plugin = {
  name: "workers-in-node",
  enforce: "pre",
  resolveId(source, importer) {
    if (source === "cloudflare:test") return here("test/support/node-test.ts");
    if (source !== "cloudflare:workers") return null;
    return importer?.includes("/test/") ? here("test/support/node-workers.ts") : here("src/runtime/shim.ts");
  },
};

/**
 * The `shards` project's files: the sharded route matrices (every route group on units of 1,
 * 8 and 64 shards) and the split's tests but one; the Workers suite keeps one sharded smoke
 * test per route group (shards-smoke.test.ts) and split.test.ts.
 */
export const SHARD_FILES = [
  "test/sharded-access.test.ts",
  "test/sharded-admin.test.ts",
  "test/sharded-queue.test.ts",
  "test/sharded-writes.test.ts",
  "test/split-keys.test.ts",
  "test/split-reprocess.test.ts",
  "test/split-races.test.ts",
  "test/split-reads.test.ts",
  "test/request-path.test.ts",
];

/**
 * The projects `npm test` runs in plain Node beside the Workers suite (vitest.config.ts lists
 * them too, so one vitest run schedules every file on the machine's cores).
 */
export const UNIT_PROJECTS: TestProjectInlineConfiguration[] = [
  // node:sqlite warns that it is experimental on every start, as `npm run serve:node` is told not to
  {
    test: {
      name: "sqlite",
      include: ["test/sqlite/**/*.test.ts"],
      fileParallelism: true,
      maxWorkers: 2,
      execArgv: ["--disable-warning=ExperimentalWarning"],
    },
  },
  // `docs`: every file the README, docs/ and src/ name exists
  { test: { name: "docs", include: ["test/docs/**/*.test.ts"] } },
  {
    plugins: [workersInNode],
    // each file has its own in-memory host and no server: two at once, one per core
    test: {
      name: "shards",
      include: SHARD_FILES,
      fileParallelism: true,
      maxWorkers: 2,
      testTimeout: 30_000,
      execArgv: ["--disable-warning=ExperimentalWarning"],
    },
  },
  {
    // the app as the self-hosted bundles see it: "cloudflare:workers" is the host's shim
    resolve: {
      alias: [{ find: "cloudflare:workers", replacement: fileURLToPath(new URL("src/runtime/shim.ts", import.meta.url)) }],
    },
    // its seeds are split over two files that run at once, one per core
    test: {
      name: "sim",
      include: ["test/sim/**/*.test.ts"],
      fileParallelism: true,
      maxWorkers: 2,
      // 1,000 seeds (ci-seeds.ts): about 130 s of CPU over the nine scenarios, shared by two files on two cores; a much busier machine takes several times that (a seed cannot hang: MAX_STEPS)
      testTimeout: 600_000,
      execArgv: ["--disable-warning=ExperimentalWarning"],
    },
  },
];

/**
 * Tests that run in plain Node rather than the Workers runtime:
 * - `sqlite`: the unit's parts without a Durable Object (queue state machine, migrations on
 *   Node's SQLite; presence and cron tick on fakes), in milliseconds; `npm test` runs them
 *   beside the Workers suite (UNIT_PROJECTS, above);
 * - `docs`: the files the README, docs/ and the source name all exist (part of `npm test`);
 * - `shards`: the sharded route matrices (1, 8 and 64 shards) and the split's tests through
 *   the real Worker on the self-hosted host over in-memory SQLite (part of `npm test`);
 * - `host`: the self-hosted Durable Object host (src/runtime) on Node's SQLite;
 * - `sim`: the shard protocol's deterministic simulation (test/sim) over that host, the
 *   Worker and the unit objects as they are (part of `npm test`);
 * - `e2e`: the end-to-end suite, over HTTP against a live server (test/e2e/global-setup.ts
 *   says which). `npm run test:e2e` runs `host` once, then `e2e` once per server kind;
 * - `browser`: /docs in chromium against a Node server of its own (`npm run test:browser`);
 * - `walkthrough`: the README's curl walkthroughs against a Node server of their own;
 * - `package`: what gets shipped: `restage/client` packed, installed into a fresh project,
 *   compiled and run under Node, Bun and Deno against a Node server of its own, and the
 *   Worker script's size as `wrangler deploy --dry-run` builds it (`npm run test:e2e` runs it).
 */
export default defineConfig({
  test: {
    // one machine of 2 cores, and one server per run: the files take turns
    fileParallelism: false,
    projects: [
      ...UNIT_PROJECTS,
      { test: { name: "host", include: ["test/runtime/**/*.test.ts"], testTimeout: 30_000, execArgv: ["--disable-warning=ExperimentalWarning"] } },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          globalSetup: ["./test/e2e/global-setup.ts"],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 180_000,
        },
      },
      // `npm run test:browser`: /docs in chromium against a self-hosted Node server it starts
      { test: { name: "browser", include: ["test/browser/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 120_000 } },
      // `npm run test:walkthrough`: the README's curl walkthroughs, run as written against a Node server it starts
      { test: { name: "walkthrough", include: ["test/walkthrough/**/*.test.ts"], testTimeout: 120_000, hookTimeout: 120_000 } },
      // `npm run test:package`: packs, installs and compiles a project of its own: minutes on a busy machine
      { test: { name: "package", include: ["test/package/**/*.test.ts"], testTimeout: 120_000, hookTimeout: 600_000 } },
    ],
  },
});
