/**
 * Helpers for the split tests: a unit's shards reached as objects, their rows read as they
 * are stored, and a split held still or driven to its end through the shards' alarms.
 * Alarms fire on their own in the test runtime too; a held split's old shards put their
 * moves off (the wait a failed step takes), so a test sees the unit mid-split for as long
 * as it needs.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import type { Peer, SplitCall } from "../src/unit/split";
import type { StorageUnit } from "../src/unit/storage-unit";
import { status } from "./queue-helpers";
import { shardStub } from "./support/shards";

export { shardStub };

type Row = Record<string, unknown>;
export interface ShardRows {
  records: Row[];
  queue: Row[];
  refs: Row[];
  outbox: Row[];
  fills: Row[];
  grants: Row[];
}

/** Every per-key row, fill and grant of one shard, as stored (the outbox without its local ids). */
export function shardRows(unit: string, index: number): Promise<ShardRows> {
  return runInDurableObject(shardStub(unit, index), (_instance: StorageUnit, state) => {
    const all = (query: string) => state.storage.sql.exec(query).toArray() as Row[];
    return {
      records: all("SELECT key, scope, content, version, updated_at FROM records ORDER BY key, scope"),
      queue: all("SELECT * FROM queue ORDER BY key, scope"),
      refs: all("SELECT * FROM record_refs ORDER BY key, scope, via, ref_scope, ref_key"),
      outbox: all(
        "SELECT ref_scope, ref_key, hops, writer_scope, writer_key, after_scope, after_key FROM referrer_outbox ORDER BY ref_key, ref_scope, hops",
      ),
      fills: all("SELECT scope, prefix, since, cursor, hops, remaining FROM fills ORDER BY scope"),
      grants: all("SELECT * FROM grants ORDER BY user_name"),
    };
  });
}

type Hold = { parts: { split: { retryAt: number } } };

/** The old shards put off their moves until {@link releaseSplit}. */
export async function holdSplit(unit: string, shards: number): Promise<void> {
  for (let index = 0; index < shards; index++) await holdShard(unit, index, true);
}

export async function releaseSplit(unit: string, shards: number): Promise<void> {
  for (let index = 0; index < shards; index++) await holdShard(unit, index, false);
}

/** Old shard `index` puts off its moves (held) or makes them at its next alarm. */
export async function holdShard(unit: string, index: number, held: boolean): Promise<void> {
  await runInDurableObject(shardStub(unit, index), (instance: StorageUnit) => {
    (instance as unknown as Hold).parts.split.retryAt = held ? Date.now() + 3_600_000 : 0;
  });
}

/** Runs the shards' alarms until the unit's status shows no split. */
export async function driveSplit(unit: string, shards: number, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if ((await status(unit)).splitting === null) return;
    if (Date.now() > until) throw new Error(`the split of ${unit} did not end: ${JSON.stringify((await status(unit)).splitting)}`);
    for (let index = 0; index < shards; index++) await runDurableObjectAlarm(shardStub(unit, index));
  }
}

/** Held old shards `indexes` move all their keys (and tell shard 0) through their alarms, one after the other; the others stay held. */
export async function moveShards(unit: string, indexes: number[]): Promise<void> {
  for (const index of indexes) {
    await holdShard(unit, index, false);
    for (let round = 0; round < 20 && (await runDurableObjectAlarm(shardStub(unit, index))); round++);
  }
}

/** One send of a batch to a new shard: the shard, and the `records` rows it carried. */
export interface Sent {
  to: number;
  records: Row[];
}

type Stepping = {
  parts: {
    split: {
      step(): Promise<void>;
      retryAt: number;
      batchKeys: number;
      stepMs: number;
      host: { peer(unit: string, index: number): Peer };
    };
  };
};

/**
 * Held old shard `index` moves one batch of at most `keys` keys through its split's step,
 * and stays held. `meanwhile` runs in the object while the batch's first send is on its way
 * (its rows read, the new shard not yet answered): what an item of the job's running batch
 * writes there while a batch travels. Returns every send, in order, and the shard's cursor.
 */
export async function moveOneBatch(
  unit: string,
  index: number,
  keys: number,
  meanwhile?: (instance: StorageUnit) => void,
): Promise<{ sent: Sent[]; cursor: string | null; done: number }> {
  return runInDurableObject(shardStub(unit, index), async (instance: StorageUnit, state) => {
    const { split } = (instance as unknown as Stepping).parts;
    const { host } = split;
    const peer = host.peer;
    const sent: Sent[] = [];
    let pending = meanwhile;
    host.peer = (name, target) => {
      const real = peer(name, target);
      const splitting = (caller: unknown, call: SplitCall) => {
        if (call.op === "receive") {
          sent.push({ to: target, records: call.batch.tables.records ?? [] });
          const run = pending;
          pending = undefined;
          run?.(instance);
        }
        return (real.splitting as (caller: unknown, call: SplitCall) => Promise<unknown>)(caller, call);
      };
      return { splitting } as unknown as Peer;
    };
    const { stepMs, retryAt } = split;
    Object.assign(split, { batchKeys: keys, stepMs: 0, retryAt: 0 });
    // held again before the step's first await: the shard's own alarm moves nothing meanwhile
    const step = split.step();
    split.retryAt = retryAt;
    try {
      await step;
    } finally {
      Object.assign(split, { stepMs, retryAt });
      host.peer = peer;
    }
    const [row] = state.storage.sql.exec<{ cursor: string | null; done: number }>("SELECT cursor, done FROM split").toArray();
    return { sent, cursor: row!.cursor, done: row!.done };
  });
}
