/**
 * Lists gathered from several shards put back in the order one shard would give (API.md,
 * "Sharded storage units": lists keep the order a one-shard unit gives). Pure functions, for
 * the Worker's merges (src/shards/merge.ts) and an old shard answering for its new ones
 * during a split alike.
 */
import { compareBytes } from "./layout";

export function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

/** The first `limit` keys of several shards' sorted key lists, in byte order, each once. */
export function mergeKeys(lists: string[][], limit: number): string[] {
  return [...new Set(lists.flat())].sort(compareBytes).slice(0, limit);
}

/**
 * The records of a list answer in the order of `keys`, each shard's answer cut where its
 * byte budget stopped it: the answer ends before the first key a shard did not reach, and
 * before it passes `budget` bytes overall (one record at least). `stoppedAt` is the index in
 * `keys` where it ended, if it did.
 */
export function inOrder<R extends { key: string }>(
  keys: string[],
  answers: Array<{ records: R[]; remainingKeys?: string[] }>,
  budget: number,
): { records: R[]; stoppedAt?: number } {
  const found = new Map<string, R>();
  const unreached = new Set<string>();
  for (const answer of answers) {
    for (const record of answer.records) found.set(record.key, record);
    for (const key of answer.remainingKeys ?? []) unreached.add(key);
  }
  const records: R[] = [];
  let bytes = 0;
  for (const [index, key] of keys.entries()) {
    if (unreached.has(key)) return { records, stoppedAt: index };
    const record = found.get(key);
    if (!record) continue;
    bytes += JSON.stringify(record).length;
    if (bytes > budget && records.length > 0) return { records, stoppedAt: index };
    records.push(record);
  }
  return { records };
}
