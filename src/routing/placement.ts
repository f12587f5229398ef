/**
 * Which shard holds a key (API.md, "Sharded storage units"): the one answer every caller asks
 * (the Worker's router, a shard's split, its reads, references and outboxes). No other code
 * hashes keys.
 *
 * A unit created with a seed places a key by HalfSipHash-2-4 (32-bit tag) of its UTF-8 bytes
 * under that 64-bit secret seed, so no writer can choose keys that land on one shard; a unit
 * created before keyed placement has no seed and keeps FNV-1a-32. Either way the shard is
 * hash mod count: with power-of-two counts, a split from n to m moves a key of shard i only
 * to a shard j with j mod n = i.
 */
import type { ShardLayout } from "./layout";

const utf8 = new TextEncoder();
/** reused for every key: placement runs for each key of every write, and an array per key showed in profiles */
let keyBytes = new Uint8Array(256);

/** The UTF-8 bytes of `key`, in a buffer the next call overwrites. */
function utf8Of(key: string): Uint8Array {
  // a UTF-16 unit takes at most 3 bytes in UTF-8
  if (keyBytes.length < key.length * 3) keyBytes = new Uint8Array(key.length * 3);
  let ascii = true;
  for (let i = 0; i < key.length && ascii; i++) {
    const code = key.charCodeAt(i);
    keyBytes[i] = code;
    ascii = code < 0x80;
  }
  if (ascii) return keyBytes.subarray(0, key.length);
  return keyBytes.subarray(0, utf8.encodeInto(key, keyBytes).written);
}

/** FNV-1a, 32 bits, over the UTF-8 bytes of `key`: the placement of units without a seed. */
export function fnv1a32(key: string): number {
  let hash = 0x811c9dc5;
  for (const byte of utf8Of(key)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

const rotl = (x: number, b: number) => ((x << b) | (x >>> (32 - b))) >>> 0;

/** HalfSipHash-2-4 with a 32-bit tag over `bytes` under the 8-byte key `k0`, `k1` (little-endian words). */
export function halfSipHash32(bytes: Uint8Array, k0: number, k1: number): number {
  let v0 = k0 >>> 0;
  let v1 = k1 >>> 0;
  let v2 = (0x6c796765 ^ k0) >>> 0;
  let v3 = (0x74656462 ^ k1) >>> 0;
  const round = () => {
    v0 = (v0 + v1) >>> 0;
    v1 = rotl(v1, 5) ^ v0;
    v0 = rotl(v0, 16);
    v2 = (v2 + v3) >>> 0;
    v3 = rotl(v3, 8) ^ v2;
    v0 = (v0 + v3) >>> 0;
    v3 = rotl(v3, 7) ^ v0;
    v2 = (v2 + v1) >>> 0;
    v1 = rotl(v1, 13) ^ v2;
    v2 = rotl(v2, 16);
  };
  const full = bytes.length - (bytes.length % 4);
  for (let i = 0; i < full; i += 4) {
    const m = (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) >>> 0;
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  let b = (bytes.length << 24) >>> 0;
  for (let i = full; i < bytes.length; i++) b |= bytes[i]! << (8 * (i - full));
  b >>>= 0;
  v3 ^= b;
  round();
  round();
  v0 ^= b;
  v2 ^= 0xff;
  for (let i = 0; i < 4; i++) round();
  return (v1 ^ v3) >>> 0;
}

/** A new unit's placement seed: 8 random bytes, as hex. */
export function newSeed(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

const seedWords = new Map<string, [number, number]>();

function wordsOf(seed: string): [number, number] {
  let words = seedWords.get(seed);
  if (!words) {
    const byte = (i: number) => Number.parseInt(seed.slice(i * 2, i * 2 + 2), 16);
    const word = (at: number) => (byte(at) | (byte(at + 1) << 8) | (byte(at + 2) << 16) | (byte(at + 3) << 24)) >>> 0;
    words = [word(0), word(4)];
    seedWords.set(seed, words);
  }
  return words;
}

/** The 32-bit placement hash of `key` in a unit of this layout. */
export function placementHash(key: string, layout: Pick<ShardLayout, "seed">): number {
  if (layout.seed === undefined) return fnv1a32(key);
  const [k0, k1] = wordsOf(layout.seed);
  return halfSipHash32(utf8Of(key), k0, k1);
}

/** The shard that holds `key` among `count` shards of the unit of `layout`. */
export function shardOf(key: string, count: number, layout: Pick<ShardLayout, "seed">): number {
  return count === 1 ? 0 : placementHash(key, layout) % count;
}

/** The shard that holds `key` by the layout's serving count (during a split: the old count, before the key moves). */
export function ownerOf(key: string, layout: ShardLayout): number {
  return shardOf(key, layout.shards, layout);
}

/** The shard `key` ends on once the layout's split has moved it (its owner when no split runs). */
export function destinationOf(key: string, layout: ShardLayout): number {
  return shardOf(key, layout.splitTo ?? layout.shards, layout);
}
