/**
 * How a storage unit is spread over its shards (API.md, "Sharded storage units"): shard 0
 * is the object named after the unit, so a unit made before shards existed is a one-shard
 * unit with its data as it is; shard i > 0 is `<unit>#i` (`#` cannot occur in a unit name).
 * A key lives on shard FNV-1a-32(UTF-8 bytes of the key) mod shards: with a power-of-two
 * count, a split from n to m moves a key of shard i only to a shard j with j mod n = i.
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
}

export const ONE_SHARD: ShardLayout = { shards: 1, splitTo: null };

export function isShardCount(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= MAX_SHARDS && (value & (value - 1)) === 0;
}

export function sameLayout(a: ShardLayout, b: ShardLayout): boolean {
  return a.shards === b.shards && a.splitTo === b.splitTo;
}

/** Every shard object that exists in this layout (during a split, the new ones too). */
export function shardIndexes(layout: ShardLayout): number[] {
  return Array.from({ length: Math.max(layout.shards, layout.splitTo ?? 0) }, (_, index) => index);
}

/** The object name of a unit's shard. */
export function shardName(unit: string, index: number): string {
  return index === 0 ? unit : `${unit}#${index}`;
}

const utf8 = new TextEncoder();

/** FNV-1a, 32 bits, over the UTF-8 bytes of `key`. */
export function fnv1a32(key: string): number {
  let hash = 0x811c9dc5;
  for (const byte of utf8.encode(key)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The shard that holds `key` among `shards`. */
export function shardOf(key: string, shards: number): number {
  return fnv1a32(key) % shards;
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
