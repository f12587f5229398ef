/**
 * How a storage unit is spread over its shards (API.md, "Sharded storage units"): shard 0
 * is the object named after the unit, so a unit made before shards existed is a one-shard
 * unit with its data as it is; shard i > 0 is `<unit>#i` (`#` cannot occur in a unit name).
 * Which shard holds a key is placement.ts's answer, and no other code's.
 */

/** The most shards a unit may have. */
export const MAX_SHARDS = 256;

/**
 * The shards a caller routed by, or a shard holds: `shards` serve the unit; while a split
 * runs, `splitTo` is the count it moves to (the shards from `shards` to `splitTo` - 1 exist
 * then and hold what has already moved).
 */
export interface ShardLayout {
  shards: number;
  splitTo: number | null;
  /**
   * The unit's secret placement seed (hex), drawn at creation (placement.ts); absent on units
   * created before keyed placement. It also tells one incarnation of a unit name from the
   * next. Never shown to users: layouts travel only between the Worker and the shards.
   */
  seed?: string;
}

export const ONE_SHARD: ShardLayout = { shards: 1, splitTo: null };

export function isShardCount(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= MAX_SHARDS && (value & (value - 1)) === 0;
}

export function sameLayout(a: ShardLayout, b: ShardLayout): boolean {
  return a.shards === b.shards && a.splitTo === b.splitTo && a.seed === b.seed;
}

/**
 * Whether `later` is the layout the unit of `earlier` reaches next: n, then n splitting to
 * m, then m. A shard that has not yet heard of the step its caller knows of serves the call
 * (it learns the step from the split itself), so a caller never goes back to an older layout
 * and MOVED cannot bounce. Another seed is another incarnation of the name: never later.
 */
export function isLaterLayout(later: ShardLayout, earlier: ShardLayout): boolean {
  if (later.seed !== earlier.seed) return false;
  // one step on, the only distance a shard can lag behind its caller: n → n splitting to m → m
  if (earlier.splitTo === null) return later.shards === earlier.shards && later.splitTo !== null;
  return later.shards === earlier.splitTo && later.splitTo === null;
}

/**
 * Whether a shard holding `held` serves a call routed by `caller` as it came: the same layout,
 * a later one ({@link isLaterLayout}), or the Worker's guess of one shard for a unit it has not
 * seen ({@link ONE_SHARD}, no seed) at a unit of one shard not splitting, where every key is on
 * shard 0 whatever the seed: a unit of one shard is called as it always was, without a MOVED
 * first in each new isolate.
 */
export function servesAsRouted(caller: ShardLayout, held: ShardLayout): boolean {
  if (sameLayout(caller, held) || isLaterLayout(caller, held)) return true;
  const guess = caller.seed === undefined && caller.shards === 1 && caller.splitTo === null;
  return guess && held.shards === 1 && held.splitTo === null;
}

/**
 * A shard's answer to a call routed by a layout older than its own: the layout to route by,
 * as a field of the answer (the Worker routes again by it; a client never sees it).
 */
export interface Moved {
  error: "MOVED";
  detail: string;
  layout: ShardLayout;
}

export function moved(layout: ShardLayout): Moved {
  return { error: "MOVED", detail: "the unit's shards changed while the call travelled; it is routed again", layout };
}

export function isMoved(value: unknown): value is Moved {
  return typeof value === "object" && value !== null && (value as Moved).error === "MOVED" && "layout" in value;
}

/** Every shard object that exists in this layout (during a split, the new ones too). */
export function shardIndexes(layout: ShardLayout): number[] {
  return Array.from({ length: Math.max(layout.shards, layout.splitTo ?? 0) }, (_, index) => index);
}

/** The object name of a unit's shard. */
export function shardName(unit: string, index: number): string {
  return index === 0 ? unit : `${unit}#${index}`;
}

/**
 * Orders strings as SQLite orders their UTF-8 bytes (code point order), which is how every
 * shard sorts its keys: JavaScript's `<` compares UTF-16 units and would put U+FFFF after U+10000.
 */
export function compareBytes(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/** What a split of a unit of `shards` may ask for. */
export function splitCounts(shards: number): string {
  if (shards >= MAX_SHARDS) return `the unit has ${shards} shards, the most a unit may have; it cannot be split further`;
  const allowed: number[] = [];
  for (let count = shards * 2; count <= MAX_SHARDS; count *= 2) allowed.push(count);
  return `shards must be a power of two greater than the unit's ${shards} and at most ${MAX_SHARDS}: one of ${allowed.join(", ")}`;
}
