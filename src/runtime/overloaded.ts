/**
 * The error of an event the self-hosted host refuses because the server ran out of
 * something (room for live objects, open files). It carries what Workers' own overloaded
 * errors do (`overloaded: true`), so the app answers 503 `OVERLOADED` (src/app.ts), plus a
 * detail naming what ran out and when to ask again; the host keeps those three fields when
 * the error crosses a stub (./objects.ts).
 */
export class HostOverloaded extends Error {
  override name = "HostOverloaded";
  readonly overloaded = true;
  /** seconds, for `Retry-After` */
  readonly retryAfter = 1;

  constructor(readonly detail: string) {
    super(`OVERLOADED: ${detail}`);
  }
}

/** The fields of an overloaded error that a copy across a stub must keep. */
export function overloadFields(error: unknown): { overloaded: true; detail?: string; retryAfter?: number } | undefined {
  if (typeof error !== "object" || error === null || (error as { overloaded?: unknown }).overloaded !== true) return undefined;
  const { detail, retryAfter } = error as { detail?: unknown; retryAfter?: unknown };
  return {
    overloaded: true,
    ...(typeof detail === "string" ? { detail } : {}),
    ...(typeof retryAfter === "number" ? { retryAfter } : {}),
  };
}
