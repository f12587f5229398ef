// Types of the test runtime's `env` and `exports` (cloudflare:workers), from the Worker's own.
declare namespace Cloudflare {
  interface Env {
    STORAGE_UNIT: DurableObjectNamespace<import("../src/unit/storage-unit").StorageUnit>;
    REGISTRY: DurableObjectNamespace<import("../src/registry/registry").Registry>;
    ADMIN_TOKEN?: string;
    CORS_ORIGINS?: string;
  }
  interface GlobalProps {
    mainModule: typeof import("../src/index");
  }
}
