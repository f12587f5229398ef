/**
 * What the clients know: the answers the contract allows, and for each (key, scope) the
 * contents it may hold after the writes sent to it (one writer per key, so its writes are
 * ordered). An acknowledged write leaves one possibility; a refused one (4xx: nothing
 * applied) leaves them as they were; one without an answer the client can trust (a 5xx)
 * adds its outcome to them.
 */

/** The status and message codes of the contract (API.md, "Conventions"). */
const CONTRACT: Record<number, readonly string[]> = {
  200: ["OK", "COMPLETED_WITH_ERRORS"],
  400: ["INVALID_REQUEST", "UNKNOWN_MODULE", "INVALID_MODULE_SETTINGS"],
  401: ["UNAUTHORIZED"],
  403: ["FORBIDDEN"],
  404: ["STORAGE_UNIT_DOESNT_EXIST", "KEY_NOT_FOUND", "USER_NOT_FOUND", "NOT_FOUND", "RUN_NOT_FOUND"],
  405: ["METHOD_NOT_ALLOWED"],
  409: ["STORAGE_UNIT_ALREADY_EXISTS", "KEY_ALREADY_EXISTS", "NEWER_VERSION_ALREADY_EXISTS", "REPROCESSING_QUEUE_DISABLED", "STORAGE_UNIT_SPLITTING"],
  413: ["PAYLOAD_TOO_LARGE"],
  500: ["INTERNAL_ERROR"],
  503: ["AUTH_NOT_CONFIGURED", "OVERLOADED"],
  507: ["STORAGE_FULL"],
};

export function inContract(status: number, message: string): boolean {
  return CONTRACT[status]?.includes(message) ?? false;
}

/** A scope absent or deleted (a tombstone). */
export const GONE = "∅";

export class KeyModel {
  private readonly states = new Map<string, Set<string>>();
  /** keys a client ever asked to delete (in any scope) */
  readonly deleted = new Set<string>();

  private slot(key: string, scope: string): Set<string> {
    const id = `${key}\u0000${scope}`;
    const state = this.states.get(id) ?? new Set([GONE]);
    this.states.set(id, state);
    return state;
  }

  /** A write's outcome: `content` as JSON, or {@link GONE} for a deletion. */
  note(key: string, scope: string, content: string, outcome: "applied" | "refused" | "unknown"): void {
    if (content === GONE) this.deleted.add(key);
    const state = this.slot(key, scope);
    if (outcome === "applied") {
      state.clear();
      state.add(content);
    } else if (outcome === "unknown") state.add(content);
  }

  /** Every (key, scope) written, with the contents it may hold. */
  *entries(): Generator<{ key: string; scope: string; allowed: Set<string> }> {
    for (const [id, allowed] of this.states) {
      const [key, scope] = id.split("\u0000") as [string, string];
      yield { key, scope, allowed };
    }
  }

  /** Whether (key, scope) certainly holds content now. */
  surelyLive(key: string, scope: string): boolean {
    const state = this.states.get(`${key}\u0000${scope}`);
    return state !== undefined && !state.has(GONE);
  }
}

/** How a write's answer bears on what it did. */
export function outcomeOf(status: number): "applied" | "refused" | "unknown" {
  if (status === 200) return "applied";
  return status >= 400 && status < 500 ? "refused" : "unknown";
}
