/**
 * Calls for keys an old shard has already handed to a new one during a split: the Worker
 * still routes a key by the old count, so the old shard asks the key's new shard and
 * passes the answer on. One hop more, only while a split runs (split.ts, `away`).
 */
import { isFailure, type Failure } from "../errors";
import { inOrder } from "../shards/merge";
import type { Peer, Split } from "./split";
import { LIST_BUDGET, type StoredRecord } from "./records";

/**
 * `local` for the keys still here, `remote` on each new shard for the keys gone there;
 * their answers (the local one first), or the first failure.
 */
export async function acrossSplit<T>(
  split: Split,
  keys: string[],
  local: (keys: string[]) => T | Failure,
  remote: (peer: Peer, keys: string[]) => Promise<T | Failure>,
): Promise<T[] | Failure> {
  const here: string[] = [];
  const away = new Map<number, string[]>();
  for (const key of keys) {
    const target = split.away(key);
    if (target === undefined) here.push(key);
    else away.set(target, [...(away.get(target) ?? []), key]);
  }
  if (away.size === 0) {
    const answer = local(keys);
    return isFailure(answer) ? answer : [answer];
  }
  const answers = [local(here), ...(await Promise.all([...away].map(([target, group]) => remote(split.peer(target), group))))];
  return answers.find(isFailure) ?? (answers as T[]);
}

/** Records in the order asked, gathered from here and the new shards within one answer's room. */
export function recordsInOrder(
  keys: string[],
  parts: Array<{ records: StoredRecord[]; remainingKeys?: string[] }>,
  maxBytes = LIST_BUDGET,
): { records: StoredRecord[]; remainingKeys?: string[] } {
  if (parts.length === 1) return parts[0]!;
  const { records, stoppedAt } = inOrder(keys, parts, maxBytes);
  return stoppedAt === undefined ? { records } : { records, remainingKeys: keys.slice(stoppedAt) };
}
