/** Helpers for the tests of sharded units: each shard's object, keys that land on chosen shards, draining every shard. */
import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { shardName } from "../../src/shards/layout";
import { shardOf } from "../../src/shards/placement";

/** Shard `index` of `unit`, to call its RPC methods or drive its alarm. */
export function shardStub(unit: string, index: number) {
  return env.STORAGE_UNIT.getByName(shardName(unit, index));
}

/** One key per shard (`<prefix>` plus a number), the key of shard i at index i. */
export function keyPerShard(shards: number, prefix = "s"): string[] {
  const keys = new Array<string | undefined>(shards);
  for (let n = 0, found = 0; found < shards; n++) {
    const key = `${prefix}${n}`;
    const index = shardOf(key, shards, {});
    if (keys[index] === undefined) {
      keys[index] = key;
      found++;
    }
  }
  return keys as string[];
}

/** `count` keys that all land on shard `index` of `shards`. */
export function keysOnShard(shards: number, index: number, count: number, prefix = "f"): string[] {
  const keys: string[] = [];
  for (let n = 0; keys.length < count; n++) if (shardOf(`${prefix}${n}`, shards, {}) === index) keys.push(`${prefix}${n}`);
  return keys;
}

/** Runs every shard's alarm until none has anything left to do. */
export async function drainShards(unit: string, shards: number): Promise<void> {
  for (let busy = true; busy; ) {
    busy = false;
    for (let index = 0; index < shards; index++) while (await runDurableObjectAlarm(shardStub(unit, index))) busy = true;
  }
}
