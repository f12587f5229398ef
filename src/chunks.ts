/** Splitting a list into runs that each fit a count and a byte limit: RPC calls, Queue sends, HTTP requests. */

/** The limits of one run; an item larger than `maxBytes` on its own still travels, alone. */
export interface ChunkLimits {
  maxItems: number;
  maxBytes: number;
}

/**
 * Splits items, in order, into runs of at most `maxItems` items whose `bytes` add up to at most `maxBytes`.
 * @example chunksWithin([{ bytes: 3 }, { bytes: 3 }, { bytes: 3 }], { maxItems: 10, maxBytes: 6 }) // [[a, b], [c]]
 */
export function chunksWithin<T extends { bytes: number }>(items: Iterable<T>, limits: ChunkLimits): T[][] {
  const chunks: T[][] = [];
  let chunk: T[] = [];
  let bytes = 0;
  for (const item of items) {
    if (chunk.length > 0 && (chunk.length >= limits.maxItems || bytes + item.bytes > limits.maxBytes)) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(item);
    bytes += item.bytes;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}
