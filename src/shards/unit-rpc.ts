/** The unit object's RPC surface, as the protocol (protocol.ts) and its plans (plans.ts) route it. */
import type { ShardRouter } from "../routing/router";
import type { StorageUnit } from "../unit/storage-unit";

/** A shard's RPC methods with the answers they are written to give (a stub's types wrap them for RPC). */
export type UnitRpc = {
  [K in keyof StorageUnit as [StorageUnit[K]] extends [never]
    ? never
    : StorageUnit[K] extends (...args: never[]) => Promise<unknown>
      ? K
      : never]: StorageUnit[K];
};

/** The one router (src/routing/router.ts) over a unit's shards. */
export type UnitRouter = ShardRouter<UnitRpc>;
