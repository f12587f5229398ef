import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { workerFromWrangler } from "./test/support/worker-config.ts";

const worker = workerFromWrangler();

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      main: worker.main,
      // workerd's verbose mode prints every exception that crosses an RPC or I/O boundary, even
      // one the caller handles: the tests that provoke them on purpose assert on them instead
      verbose: false,
      miniflare: {
        ...worker.miniflare,
        bindings: {
          ...worker.miniflare.bindings,
          ADMIN_TOKEN: "test-admin-token",
          // the Recorder and Fault modules, and room in Recorder for the 10,000-item drains of the job tests
          RESTAGE_TEST_MODULES: "true",
          RESTAGE_RECORDER_MAX_CALLS: "100000",
          // the publisher test server started by globalSetup, and a secret for its Authorization header
          PUBLISHER_URL: `http://127.0.0.1:${inject("publisherPort")}`,
          PUBLISHER_AUTH: "Bearer publisher-test-secret",
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
    globalSetup: ["./test/support/publisher-server.ts"],
    include: ["test/**/*.test.ts"],
    // these run in plain Node (test/browser and test/walkthrough against a live server): vitest.e2e.config.ts
    exclude: ["test/e2e/**", "test/runtime/**", "test/sqlite/**", "test/browser/**", "test/walkthrough/**"],
    testTimeout: 30_000,
  },
});
