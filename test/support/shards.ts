/**
 * Helpers for the tests of sharded units: each shard's object, the unit's layout as shard 0
 * holds it (its placement seed included), keys that land on chosen shards under that
 * layout, draining every shard. Keys are placed by src/routing/placement.ts, as the Worker
 * places them: a unit draws its seed at creation, so keys are chosen once the unit exists.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { isFailure } from "../../src/errors";
import { shardName, type ShardLayout } from "../../src/routing/layout";
import { shardOf } from "../../src/routing/placement";
import { ADMIN_CALL } from "../../src/unit/grants";

/** Shard `index` of `unit`, to call its RPC methods or drive its alarm. */
export function shardStub(unit: string, index: number) {
  return env.STORAGE_UNIT.getByName(shardName(unit, index));
}

/** The layout shard `index` of `unit` holds (its RPC `info`), seed included. */
export async function shardLayout(unit: string, index: number): Promise<ShardLayout> {
  const info = await shardStub(unit, index).info(ADMIN_CALL);
  if (isFailure(info)) throw new Error(`shard ${index} of unit '${unit}' has no layout: ${info.detail}`);
  return info.layout;
}

/** The unit's layout as shard 0 holds it, seed included: what the Worker routes by. */
export function unitLayout(unit: string): Promise<ShardLayout> {
  return shardLayout(unit, 0);
}

/** One key per shard of `layout` (`<prefix>` plus a number), the key of shard i at index i; `shards`: another count (a split's). */
export function keyPerShard(layout: ShardLayout, prefix = "s", shards = layout.shards): string[] {
  const keys = new Array<string | undefined>(shards);
  for (let n = 0, found = 0; found < shards; n++) {
    const key = `${prefix}${n}`;
    const index = shardOf(key, shards, layout);
    if (keys[index] === undefined) {
      keys[index] = key;
      found++;
    }
  }
  return keys as string[];
}

/** `count` keys that all land on shard `index` of `layout` (of `shards`, when given). */
export function keysOnShard(layout: ShardLayout, index: number, count: number, prefix = "f", shards = layout.shards): string[] {
  const keys: string[] = [];
  for (let n = 0; keys.length < count; n++) if (shardOf(`${prefix}${n}`, shards, layout) === index) keys.push(`${prefix}${n}`);
  return keys;
}

/** Runs every shard's alarm until none has anything left to do. */
export async function drainShards(unit: string, shards: number): Promise<void> {
  for (let busy = true; busy; ) {
    busy = false;
    for (let index = 0; index < shards; index++) while (await runDurableObjectAlarm(shardStub(unit, index))) busy = true;
  }
}
