/**
 * A fetch that tries again when the service answers 503 `OVERLOADED` (API.md: a unit's
 * object is overloaded; `Retry-After: 1`): it waits at least what `Retry-After` says, with
 * exponential backoff on repeats, for a bounded number of attempts, then hands the last
 * answer back. Other answers, 503 `AUTH_NOT_CONFIGURED` included, come back at once.
 * The request is sent again as given, so its body must be re-readable (a string, as the
 * typed client sends), not a stream.
 */

export interface RetryOptions {
  /** attempts in all, the first included (default 5) */
  attempts?: number;
  /** the wait after the first overloaded answer when longer than Retry-After; doubled each time (default 250) */
  baseDelayMs?: number;
  /** the longest wait (default 10,000) */
  maxDelayMs?: number;
  /** how to wait (tests pass a fake) */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Wraps `fetchFn` with the retry on 503 OVERLOADED.
 * @example const fetchWithRetry = retryingFetch(fetch, { attempts: 3 });
 */
export function retryingFetch(fetchFn: typeof fetch, options: RetryOptions = {}): typeof fetch {
  const { attempts = 5, baseDelayMs = 250, maxDelayMs = 10_000, sleep = (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)) } = options;
  return async (input, init) => {
    for (let attempt = 1; ; attempt++) {
      const response = await fetchFn(input, init);
      if (response.status !== 503 || attempt >= attempts || !(await isOverloaded(response))) return response;
      const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
      await sleep(Math.min(maxDelayMs, Math.max(retryAfterMs(response), backoff)));
    }
  };
}

async function isOverloaded(response: Response): Promise<boolean> {
  try {
    const body = (await response.clone().json()) as { message?: unknown };
    return body?.message === "OVERLOADED";
  } catch {
    return false;
  }
}

/** `Retry-After` in ms: seconds or an HTTP date; 0 when absent or unreadable. */
function retryAfterMs(response: Response): number {
  const value = response.headers.get("retry-after");
  if (value === null) return 0;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? 0 : Math.max(0, date - Date.now());
}
