import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { workerFromWrangler } from "./test/support/worker-config.ts";

const worker = workerFromWrangler();

/**
 * `npm run bench`: benchmarks in the Workers runtime (workerd), kept apart from `npm test`.
 * BENCH_RECORDS sets how many records the reprocessing benchmark fills (default 1,000,000),
 * BENCH_JOIN_RECORDS how many books the join benchmark drains (default 20,000).
 */
export default defineConfig({
  plugins: [
    cloudflareTest({
      main: worker.main,
      miniflare: {
        ...worker.miniflare,
        bindings: {
          ...worker.miniflare.bindings,
          ADMIN_TOKEN: "bench-admin-token",
          BENCH_RECORDS: process.env.BENCH_RECORDS ?? "1000000",
          BENCH_BATCH_SIZE: process.env.BENCH_BATCH_SIZE ?? "1000",
          BENCH_JOIN_RECORDS: process.env.BENCH_JOIN_RECORDS ?? "20000",
        },
      },
    }),
  ],
  test: {
    include: ["bench/**/*.bench.test.ts"],
    // the job's routine log lines (one a slice) would bury the figures
    setupFiles: ["./test/support/quiet-logs.ts"],
    testTimeout: 30 * 60_000,
    hookTimeout: 60_000,
  },
});
