/**
 * Calls for keys an old shard has already handed to a new one during a split: the Worker
 * still routes a key by the old count, so the old shard asks the key's new shard and
 * passes the answer on. One hop more, only while a split runs (split.ts, `away`). Reads
 * pass the Worker's routing on; writes are sent {@link unrouted}: the new shard holds the
 * key whichever step of the split it has reached, and checks that it does (`placeOf`).
 */
import { isFailure, type Failure } from "../errors";
import { inOrder } from "../routing/key-order";
import type { Peer, Split } from "./split";
import { LIST_BUDGET, type StoredRecord } from "./records";

/**
 * `local` for the keys still here, `remote` on each new shard for the keys gone there;
 * their answers (the local one first), or the first failure. A key that is not this
 * shard's at all (the split ended while the call waited its turn here) makes the call
 * MOVED: the Worker routes it again by the layout this shard has now.
 */
export async function acrossSplit<T>(
  split: Split,
  keys: string[],
  local: (keys: string[]) => T | Failure,
  remote: (peer: Peer, keys: string[]) => Promise<T | Failure>,
): Promise<T[] | Failure> {
  const { here, away, elsewhere } = byPlace(split, keys, (key) => key);
  if (elsewhere.length > 0) return split.moved();
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

/** Items sorted by where their keys are written (split.ts, `placeOf`): here, per new shard, or not this shard's. */
export function byPlace<I>(split: Split, items: I[], keyOf: (item: I) => string): { here: I[]; away: Map<number, I[]>; elsewhere: I[] } {
  const here: I[] = [];
  const away = new Map<number, I[]>();
  const elsewhere: I[] = [];
  for (const item of items) {
    const place = split.placeOf(keyOf(item));
    if (place === "here") here.push(item);
    else if (place === "elsewhere") elsewhere.push(item);
    else away.set(place, [...(away.get(place) ?? []), item]);
  }
  return { here, away, elsewhere };
}
