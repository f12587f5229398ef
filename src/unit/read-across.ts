/**
 * A module's read of many keys over a unit's shards with the rules of one shard's read
 * (records.contentsJson): the contents in the order of the keys, a key given twice read
 * twice, and contents taken only while the bytes before them are at most `maxBytes`, the
 * answer ending at the content that passed it.
 *
 * Each round asks every shard concerned at once for its keys from the first one not yet
 * read, each within an even share of the budget left (so the round holds that budget and one
 * record per shard at most). Where a shard stopped within its share before the answer did,
 * the next round starts at its first key left; keys of joins are mostly small, so one round
 * is the rule.
 */
import { jsonBytes } from "../limits";

/** A shard's answer for some keys: the contents (null where none) of the first `contents.length` of `positions`. */
export interface ReadPart {
  positions: number[];
  contents: Array<string | null>;
}

/**
 * The contents of `keys` within `maxBytes`, read by `round`: given the positions in `keys` still
 * to read and the bytes left, it answers each shard's part.
 */
export async function readAcross(
  keys: string[],
  maxBytes: number,
  round: (positions: number[], bytesLeft: number) => Promise<ReadPart[]>,
): Promise<{ contents: Array<string | undefined>; bytes: number }> {
  const contents: Array<string | undefined> = [];
  let bytes = 0;
  let start = 0;
  while (start < keys.length) {
    const reached = new Map<number, string | null>();
    for (const part of await round(rangeFrom(start, keys.length), maxBytes - bytes))
      for (const [index, content] of part.contents.entries()) reached.set(part.positions[index]!, content);
    let position = start;
    for (; position < keys.length && reached.has(position); position++) {
      const content = reached.get(position) ?? undefined;
      contents.push(content);
      if (content === undefined) continue;
      bytes += jsonBytes(content);
      if (bytes > maxBytes) return { contents, bytes };
    }
    // the first key of a round is within its shard's share whatever the share: each round moves on
    if (position === start) throw new Error(`no shard answered for key '${keys[start]}'`);
    start = position;
  }
  return { contents, bytes };
}

/** An even share of `bytes` among `parts`. */
export function shareOf(bytes: number, parts: number): number {
  return Math.floor(bytes / Math.max(parts, 1));
}

function rangeFrom(start: number, end: number): number[] {
  return Array.from({ length: end - start }, (_, index) => start + index);
}
