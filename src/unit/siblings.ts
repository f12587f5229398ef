/**
 * What a shard may do with the other shards of its unit: reach one (a creation laying the
 * others, a split's moves, a write sent on to a moved key's new shard), or send groups of
 * items to their keys' shards (the modules' reads, reverse rows, referrers: across-shards.ts).
 * It is the router the Worker routes the unit's calls by (src/routing/router.ts), handed to
 * the shard narrowed to these two calls, starting from the layout the shard holds.
 */
import type { Env } from "../env";
import type { ShardLayout } from "../routing/layout";
import { ShardRouter } from "../routing/router";
import type { Peer } from "./split";

export type Siblings = Pick<ShardRouter<Peer>, "shard" | "onShardsOf">;

/** The shards of the unit `unit`; `layout`: the one this shard holds, to route by before any MOVED. */
export function siblingsOf(env: Pick<Env, "STORAGE_UNIT">, unit: string, layout?: ShardLayout): Siblings {
  return new ShardRouter<Peer>(env.STORAGE_UNIT, unit, layout);
}
