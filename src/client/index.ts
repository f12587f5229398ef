/**
 * `restage/client`: a typed client of the API. `api` is Hono's `hc` over the app's routes
 * (src/app.ts `AppType`, as the schema of server-types.ts), so every path, parameter, body
 * and answer is typed from the same route definitions that validate and document them; a
 * misspelt field fails `tsc`. It adds the token, a retry on 503 OVERLOADED (retry.ts), keys
 * percent-encoded in paths, and an NDJSON ingest split into `transaction/batch` calls
 * within the limits (ingest.ts). Published built, as JavaScript with declarations
 * (scripts/build-client.mjs, packages/client); relative imports name their `.js` file, as
 * Node's ES modules want of the built files.
 * @example
 * const restage = restageClient({ baseUrl: "http://127.0.0.1:8787", token: process.env.ADMIN_TOKEN! });
 * const status = await data(restage.api.reprocess.status[":unit"].$get({ param: { unit: "docs" } }));
 * status.pending; // number
 */
import type { Hono } from "hono";
import { hc } from "hono/client";
import type { BlankEnv } from "hono/types";
import { ingest, type IngestResult } from "./ingest.js";
import { retryingFetch, type RetryOptions } from "./retry.js";
import type { ApiSchema, BatchLineInput, ChunkLimits } from "./server-types.js";

export { data, RestageError, type OkBody } from "./answers.js";
export { IngestError, BATCH_LIMITS, type BatchLineInput, type IngestResult } from "./ingest.js";
export type { RetryOptions } from "./retry.js";
export type { ApiSchema, ChunkLimits, ErrorCode } from "./server-types.js";

/** The API as an app type for `hc`: its routes only, without the server's bindings. */
type ApiApp = Hono<BlankEnv, ApiSchema, "/">;

export type RestageApi = ReturnType<typeof hc<ApiApp>>;

export interface RestageClientOptions {
  /** e.g. `http://127.0.0.1:8787` */
  baseUrl: string;
  /** the admin token or a user's token */
  token: string;
  /** the fetch to send with (default: the global fetch) */
  fetch?: typeof fetch;
  retry?: RetryOptions;
}

export interface RestageClient {
  api: RestageApi;
  /** sends lines to `transaction/batch/<unit>` in calls within the limits; errors carry the line's number in the whole ingest */
  ingest(unit: string, lines: Iterable<BatchLineInput> | AsyncIterable<BatchLineInput>, limits?: ChunkLimits): Promise<IngestResult>;
}

/**
 * A client for one server and one token.
 * @example const restage = restageClient({ baseUrl: "http://127.0.0.1:8787", token });
 */
export function restageClient(options: RestageClientOptions): RestageClient {
  const send = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const api = encodingParams(
    hc<ApiApp>(options.baseUrl, {
      fetch: retryingFetch(send, options.retry),
      headers: { authorization: `Bearer ${options.token}` },
      buildSearchParams: commaLists,
    }),
  );
  return { api, ingest: (unit, lines, limits) => ingest(api, unit, lines, limits) };
}

/**
 * `hc` puts path parameters in the URL as they are; API.md wants each percent-encoded (a
 * key `a/b` travels as `a%2Fb`), so every call's `param` values are encoded on the way.
 */
function encodingParams<T extends object>(target: T): T {
  return new Proxy(target, {
    get: (object, property) => {
      const value = Reflect.get(object, property);
      return typeof value === "function" || (typeof value === "object" && value !== null) ? encodingParams(value) : value;
    },
    apply: (fn, self, args: unknown[]) => {
      const [first, ...rest] = args as [{ param?: Record<string, string> } | undefined, ...unknown[]];
      const param = first?.param && Object.fromEntries(Object.entries(first.param).map(([name, value]) => [name, encodeURIComponent(value)]));
      return Reflect.apply(fn as (...args: unknown[]) => unknown, self, param ? [{ ...first, param }, ...rest] : args);
    },
  });
}

/**
 * The query as `hc` builds it, but with commas left as they are: `?keys=k1,k2` is split on
 * literal commas (API.md, "Conventions"), so a list passed as "k1,k2" stays a list. A key
 * holding a comma needs the POST form (`{"keys": [...]}`).
 */
function commaLists(query: Record<string, string | string[]>): URLSearchParams {
  const params = new CommaSearchParams();
  for (const [name, value] of Object.entries(query)) {
    for (const one of Array.isArray(value) ? value : [value]) if (one !== undefined) params.append(name, one);
  }
  return params;
}

class CommaSearchParams extends URLSearchParams {
  override toString(): string {
    return super.toString().replace(/%2C/gi, ",");
  }
}
