/**
 * The one error type of the API and the table of message codes to HTTP statuses.
 * Every failure a client sees is `{"message": CODE, "detail": "..."}` (API.md, "Conventions").
 */
export const ERROR_STATUS = {
  INVALID_REQUEST: 400,
  UNKNOWN_MODULE: 400,
  INVALID_MODULE_SETTINGS: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  STORAGE_UNIT_DOESNT_EXIST: 404,
  KEY_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  NOT_FOUND: 404,
  RUN_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  STORAGE_UNIT_ALREADY_EXISTS: 409,
  KEY_ALREADY_EXISTS: 409,
  NEWER_VERSION_ALREADY_EXISTS: 409,
  REPROCESSING_QUEUE_DISABLED: 409,
  /** a second split while one runs: the split call waits until the first has ended (Retry-After) */
  STORAGE_UNIT_SPLITTING: 409,
  PAYLOAD_TOO_LARGE: 413,
  STORAGE_FULL: 507,
  INTERNAL_ERROR: 500,
  AUTH_NOT_CONFIGURED: 503,
  OVERLOADED: 503,
  /** a shard's answer to a call routed by a stale shard count; the Worker asks again, a client never sees it */
  MOVED: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Headers an answer with this code always carries: when to ask again. */
const ERROR_HEADERS: Partial<Record<ErrorCode, Record<string, string>>> = {
  STORAGE_UNIT_SPLITTING: { "retry-after": "5" },
};

/**
 * What a storage unit returns instead of throwing: errors thrown across RPC lose their
 * type, so the unit answers with a plain object that routes turn into an {@link ApiError}.
 */
export interface Failure {
  error: ErrorCode;
  detail: string;
}

export function failure(error: ErrorCode, detail: string): Failure {
  return { error, detail };
}

export function isFailure(value: unknown): value is Failure {
  return typeof value === "object" && value !== null && "error" in value && typeof (value as Failure).error === "string" && "detail" in value;
}

/**
 * Thrown anywhere in a request; the app's `onError` renders it.
 * @example throw new ApiError("KEY_NOT_FOUND", "no record 'k1' in unit 'docs'")
 */
export class ApiError extends Error {
  readonly status: (typeof ERROR_STATUS)[ErrorCode];
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly headers: Record<string, string> = ERROR_HEADERS[code] ?? {},
  ) {
    super(`${code}: ${detail}`);
    this.status = ERROR_STATUS[code];
  }
}

/** What is left of a result once its failure case is taken out (RPC results carry extra brands, hence the conditional). */
export type Success<R> = R extends { error: ErrorCode; detail: string } ? never : R;

/**
 * STORAGE_UNIT_DOESNT_EXIST as a client is told it: a shard that was never created cannot
 * know the name it was reached by, so the route, which does, names the unit.
 * @example throw unknownUnit("docs")
 */
export function unknownUnit(name: string): ApiError {
  return new ApiError(
    "STORAGE_UNIT_DOESNT_EXIST",
    `no storage unit '${name}'; check the name (GET /admin/listStorageUnits lists them) or create it with PUT /admin/createStorageUnit/${name}`,
  );
}

/** Returns the value, or throws the unit's failure as an {@link ApiError}. */
export function unwrap<R>(result: R): Success<R> {
  if (isFailure(result)) throw new ApiError(result.error, result.detail);
  return result as Success<R>;
}

/** Durable Objects flag errors from an overloaded object with `.overloaded`: the client should retry after a short wait. */
export function isOverloaded(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { overloaded?: boolean }).overloaded === true;
}

/**
 * The answer to an overloaded error: its own `detail` and `retryAfter` (seconds) when it
 * carries them (a self-hosted server names what ran out: src/runtime/overloaded.ts), else
 * those of an overloaded object on Workers.
 */
export function overloadedAnswer(error: unknown): { detail: string; retryAfter: string } {
  const { detail, retryAfter } = error as { detail?: unknown; retryAfter?: unknown };
  return {
    detail: typeof detail === "string" ? detail : "the storage unit is overloaded; retry after a short wait",
    retryAfter: typeof retryAfter === "number" ? String(retryAfter) : "1",
  };
}
