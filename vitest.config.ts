import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { workerFromWrangler } from "./test/support/worker-config.ts";
import { SHARD_FILES, UNIT_PROJECTS } from "./vitest.e2e.config.ts";

const worker = workerFromWrangler();

/**
 * The shard cap of the `storage-full` project: an empty unit stores about 60 KB, so a few records
 * fill it. Half a page past a page boundary: the stored size moves in whole 4 KiB pages, so a
 * unit that refused a large write always has room left for a small one, whatever tables it has.
 */
const CAPPED_SHARD_BYTES = 512 * 1024 + 2048;
/** Files that run under that cap; every other file runs with no cap of ours. */
const CAPPED_FILES = ["test/storage-full.test.ts"];

const common = {
  main: worker.main,
  // workerd's verbose mode prints every exception that crosses an RPC or I/O boundary, even
  // one the caller handles: the tests that provoke them on purpose assert on them instead
  verbose: false,
};
const bindings = {
  ...worker.miniflare.bindings,
  ADMIN_TOKEN: "test-admin-token",
  // the Recorder and Fault modules, and room in Recorder for the 10,000-item drains of the job tests
  RESTAGE_TEST_MODULES: "true",
  RESTAGE_RECORDER_MAX_CALLS: "100000",
};

export default defineConfig({
  test: {
    testTimeout: 30_000,
    projects: [
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            ...common,
            miniflare: {
              ...worker.miniflare,
              bindings: {
                ...bindings,
                // the publisher test server started by globalSetup, and a secret for its Authorization header
                PUBLISHER_URL: `http://127.0.0.1:${inject("publisherPort")}`,
                RESTAGE_PUBLISHER_AUTH: "Bearer publisher-test-secret",
              },
              // QueuePublisher tests: a real Queue, consumed by an auxiliary Worker the tests can ask
              queueProducers: { OUTBOX: { queueName: "restage-outbox" } },
              serviceBindings: { OUTBOX_CONSUMER: "outbox-consumer" },
              workers: [
                {
                  name: "outbox-consumer",
                  modules: true,
                  scriptPath: "./test/support/outbox-consumer.mjs",
                  compatibilityDate: "2026-10-01",
                  queueConsumers: { "restage-outbox": { maxBatchSize: 100, maxBatchTimeout: 0 } },
                },
              ],
            },
          })),
        ],
        test: {
          name: "workers",
          // one workerd per pool worker, not one per file: starting workerd was more than half
          // the suite's time. The files then share storage, so every test makes its own units
          // and no test counts what the registry holds beyond them
          isolate: false,
          maxWorkers: 2,
          globalSetup: ["./test/support/publisher-server.ts"],
          setupFiles: ["./test/support/quiet-logs.ts"],
          include: ["test/**/*.test.ts"],
          // these run in plain Node (vitest.e2e.config.ts: test/sqlite, test/sim, test/docs and the sharded route matrices and most split tests in npm test; test/browser, test/walkthrough and test/package against a live server), or under a shard cap (below)
          exclude: [
            "test/e2e/**",
            "test/runtime/**",
            "test/sqlite/**",
            "test/sim/**",
            "test/docs/**",
            "test/browser/**",
            "test/walkthrough/**",
            "test/package/**",
            ...CAPPED_FILES,
            ...SHARD_FILES,
          ],
          testTimeout: 30_000,
        },
      },
      {
        // the same Worker with RESTAGE_SHARD_MAX_BYTES set low, so a test can fill a unit (API.md: 507 STORAGE_FULL)
        plugins: [
          cloudflareTest({
            ...common,
            miniflare: { ...worker.miniflare, bindings: { ...bindings, RESTAGE_SHARD_MAX_BYTES: String(CAPPED_SHARD_BYTES) } },
          }),
        ],
        test: { name: "storage-full", include: CAPPED_FILES, setupFiles: ["./test/support/quiet-logs.ts"], testTimeout: 30_000 },
      },
      // the plain-Node projects (sqlite, docs, shards, sim), in the same run so their files share the cores
      ...UNIT_PROJECTS,
    ],
  },
});
