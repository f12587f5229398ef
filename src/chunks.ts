/** Splitting a list into runs that each fit a count and a byte limit: RPC calls, Queue sends, HTTP requests. */

/** The limits of one run; an item larger than `maxBytes` on its own still travels, alone. */
export interface ChunkLimits {
  maxItems: number;
  maxBytes: number;
}

/**
 * Builds runs one item at a time, for items that arrive as a stream (the client's NDJSON
 * ingest): `push` answers the run an item closes, `flush` the last one.
 * @example const chunker = new Chunker<Line>(limits); for await (const line of lines) { const full = chunker.push(line); if (full) await send(full); }
 */
export class Chunker<T extends { bytes: number }> {
  private chunk: T[] = [];
  private bytes = 0;
  constructor(private readonly limits: ChunkLimits) {}

  /** Adds an item; returns the run it does not fit in, now complete. */
  push(item: T): T[] | undefined {
    let full: T[] | undefined;
    if (this.chunk.length > 0 && (this.chunk.length >= this.limits.maxItems || this.bytes + item.bytes > this.limits.maxBytes)) full = this.flush();
    this.chunk.push(item);
    this.bytes += item.bytes;
    return full;
  }

  /** The run being built (undefined when empty), and a fresh start. */
  flush(): T[] | undefined {
    const full = this.chunk.length > 0 ? this.chunk : undefined;
    this.chunk = [];
    this.bytes = 0;
    return full;
  }
}

/**
 * Splits items, in order, into runs of at most `maxItems` items whose `bytes` add up to at most `maxBytes`.
 * @example chunksWithin([{ bytes: 3 }, { bytes: 3 }, { bytes: 3 }], { maxItems: 10, maxBytes: 6 }) // [[a, b], [c]]
 */
export function chunksWithin<T extends { bytes: number }>(items: Iterable<T>, limits: ChunkLimits): T[][] {
  const chunker = new Chunker<T>(limits);
  const chunks: T[][] = [];
  for (const item of items) {
    const full = chunker.push(item);
    if (full) chunks.push(full);
  }
  const last = chunker.flush();
  if (last) chunks.push(last);
  return chunks;
}
