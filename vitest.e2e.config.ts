import { defineConfig } from "vitest/config";

/**
 * The end-to-end suite: plain Node, over HTTP, against a live server (test/e2e/global-setup.ts
 * says which). `npm run test:e2e` runs it once per server kind.
 */
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.test.ts"],
    globalSetup: ["./test/e2e/global-setup.ts"],
    // one server, one machine of 2 cores: the files take turns
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
