/**
 * Running one async function over a list with a bounded number of calls in flight. Kept
 * here, not taken from a library: neither Hono nor the platform has one, and a package
 * (p-limit, p-map) would be a new dependency for these eight lines.
 */

/**
 * Calls `fn` for every item, at most `limit` at a time, each worker taking the next item
 * as soon as its call ends. Rejects with the first error thrown (calls already started
 * still run to their end); catch inside `fn` to go on past failures.
 * @example await forEachConcurrently(names, 6, async (name) => visit(name));
 */
export async function forEachConcurrently<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
