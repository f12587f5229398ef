// Types of the test runtime's `env` and `exports` (cloudflare:workers), from the Worker's own.
declare namespace Cloudflare {
  interface Env {
    STORAGE_UNIT: DurableObjectNamespace<import("../src/unit/storage-unit").StorageUnit>;
    REGISTRY: DurableObjectNamespace<import("../src/registry/registry").Registry>;
    /** the pages' static files (wrangler.toml [assets]) */
    ASSETS: Fetcher;
    ADMIN_TOKEN?: string;
    CORS_ORIGINS?: string;
    /** the publisher test server (test/support/publisher-server.ts) */
    PUBLISHER_URL: string;
    RESTAGE_PUBLISHER_AUTH: string;
    OUTBOX: Queue;
    /** the auxiliary Worker consuming OUTBOX (test/support/outbox-consumer.mjs) */
    OUTBOX_CONSUMER: Fetcher;
  }
  interface GlobalProps {
    mainModule: typeof import("../src/index");
  }
}
