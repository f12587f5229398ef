import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/**
 * `npm run bench`: benchmarks in the Workers runtime (workerd), kept apart from `npm test`.
 * BENCH_RECORDS sets how many records the reprocessing benchmark fills (default 1,000,000).
 */
export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          ADMIN_TOKEN: "bench-admin-token",
          BENCH_RECORDS: process.env.BENCH_RECORDS ?? "1000000",
          BENCH_BATCH_SIZE: process.env.BENCH_BATCH_SIZE ?? "1000",
        },
      },
    }),
  ],
  test: {
    include: ["bench/**/*.bench.test.ts"],
    testTimeout: 30 * 60_000,
    hookTimeout: 60_000,
  },
});
