import type { Registry } from "./registry/registry";
import type { StorageUnit } from "./unit/storage-unit";

/** The bindings and variables of the Worker (wrangler.toml, secrets, `.dev.vars`). */
export interface Env {
  STORAGE_UNIT: DurableObjectNamespace<StorageUnit>;
  REGISTRY: DurableObjectNamespace<Registry>;
  /** the pages' static files, dist/assets (wrangler.toml [assets]; on the self-hosted servers, src/runtime/assets.ts) */
  ASSETS: Fetcher;
  /** the admin bearer token; with none set, guarded routes answer 503 AUTH_NOT_CONFIGURED */
  ADMIN_TOKEN?: string;
  /** the secret behind the MAC of user tokens (src/http/user-tokens.ts); unset: derived from ADMIN_TOKEN */
  TOKEN_SECRET?: string;
  /** comma-separated origins allowed by CORS; unset means CORS is off */
  CORS_ORIGINS?: string;
  /** "true": the test modules (Recorder, Fault) may be named in pipelines; off in production */
  RESTAGE_TEST_MODULES?: string;
  /** caps the bytes one shard of a unit stores (src/unit/capacity.ts); unset: only the platform's limit */
  RESTAGE_SHARD_MAX_BYTES?: string;
}
