/**
 * How a unit's shards are reached, by the Worker and by a shard reaching its siblings alike:
 * the layout cache, MOVED and the fan-out, at most {@link SHARDS_AT_ONCE} shards at a time.
 * The protocol (src/shards/protocol.ts) says which of these each of the unit's calls takes;
 * a shard is handed the same router as its `Siblings` (src/unit/siblings.ts).
 *
 * It knows nothing of the unit object but the one call it needs on a refusal (`info`), so
 * that the unit's code can use it without importing the protocol built on the unit.
 */
import { failure, isFailure, type Failure } from "../errors";
import { forEachConcurrently } from "../concurrency";
import { isMoved, ONE_SHARD, sameLayout, shardIndexes, shardName, type ShardLayout } from "./layout";
import { ownerOf } from "./placement";

/** Shards called at once: the connection limit of one Worker invocation. */
export const SHARDS_AT_ONCE = 6;

/**
 * Routings of one call at most. Each MOVED names a later layout than the one the call was
 * routed by (a shard serves a caller that knows more than it does: guard.ts), so a split
 * costs a call two or three of them at most; this bounds a unit deleted and made again
 * over and over meanwhile.
 */
const ROUTINGS = 8;

/** Each unit's layout as this isolate last learnt it; absent: one shard, until a shard says otherwise. */
const layouts = new Map<string, ShardLayout>();

/** Forgets every cached layout, as a new isolate starts: the simulation begins each of its worlds so. */
export function forgetLayouts(): void {
  layouts.clear();
}

/** The layout this isolate routes `unit`'s calls by now (undefined: one shard, until told otherwise). */
export function cachedLayout(unit: string): ShardLayout | undefined {
  return layouts.get(unit);
}

/**
 * A call as it reaches a shard: who makes it (the caller, as the Worker's authorization found
 * it) and, apart from that, the layout it was routed by. A shard that holds another layout
 * answers MOVED instead of serving (src/unit/guard.ts). Without `layout` the call was not
 * routed: a shard's own call on to a moved key's new shard, a test's call on one object.
 */
export interface RoutedCall<C> {
  caller: C;
  layout?: ShardLayout;
}

/** `caller`'s call, not routed by any layout. */
export function unrouted<C>(caller: C): RoutedCall<C> {
  return { caller };
}

/** What the router asks of a shard itself: its layout, when a refusal may come of a stale guess. */
export interface RoutableShard {
  info(call: RoutedCall<{ kind: "admin" }>): Promise<{ layout: ShardLayout } | Failure>;
}

/** The unit's objects by name: the Durable Object namespace, or a self-hosted runtime's. */
export interface ShardNamespace {
  getByName(name: string): unknown;
}

/** A group of items a shard of this router's unit runs itself rather than by RPC (see {@link ShardRouter.onShardsOf}). */
export interface LocalGroup<I, T> {
  shard: number;
  layout: ShardLayout;
  run: (group: I[], groups: number) => T | Promise<T>;
}

export class ShardRouter<Shard extends RoutableShard> {
  constructor(
    private readonly namespace: ShardNamespace,
    readonly name: string,
    known?: ShardLayout,
  ) {
    // a shard calling its own unit starts from the layout it holds, rather than from one shard and a MOVED
    if (known && !layouts.has(name)) layouts.set(name, known);
  }

  /** The layout calls are routed by now. */
  cachedLayout(): ShardLayout | undefined {
    return layouts.get(this.name);
  }

  /** Routes by `layout` from now on; undefined: the unit is gone, learn it again. */
  remember(layout: ShardLayout | undefined): void {
    if (layout) layouts.set(this.name, layout);
    else layouts.delete(this.name);
  }

  /** Shard `index` of the unit, by RPC. */
  shard(index: number): Shard {
    return this.namespace.getByName(shardName(this.name, index)) as Shard;
  }

  /**
   * Runs `call` by the cached layout; after a MOVED answer, again by the layout it names. A
   * refusal (no such unit, a token unknown there) by a layout of several shards may come of
   * a stale guess (the unit was made again with fewer shards): shard 0 is asked its layout,
   * and the call made again only when it differs, so a user refused on one shard does not
   * make anyone else's next call cost a hop. MOVED never leaves this method.
   */
  async routed<T>(call: (layout: ShardLayout) => Promise<T | Failure>): Promise<T | Failure> {
    let checked = false;
    for (let attempt = 0; attempt < ROUTINGS; attempt++) {
      const layout = this.cachedLayout() ?? ONE_SHARD;
      const result = await call(layout);
      if (isMoved(result)) {
        this.remember(result.layout);
        continue;
      }
      const spread = layout.shards > 1 || layout.splitTo !== null;
      if (isFailure(result) && spread && !checked && (result.error === "STORAGE_UNIT_DOESNT_EXIST" || result.error === "UNAUTHORIZED")) {
        checked = true;
        const current = await this.shard(0).info(unrouted({ kind: "admin" }));
        const now = isFailure(current) ? undefined : current.layout;
        if (now && sameLayout(now, layout)) return result;
        this.remember(now);
        continue;
      }
      if (isFailure(result) && result.error === "MOVED") return changedWhileRouted(this.name);
      return result;
    }
    return changedWhileRouted(this.name);
  }

  /** The unit's layout from shard 0 (undefined when the unit does not exist), cached. */
  async layoutOf(): Promise<ShardLayout | undefined> {
    const info = await this.routed((layout) => this.shard(0).info({ caller: { kind: "admin" }, layout }));
    return isFailure(info) ? undefined : info.layout;
  }

  /** `call` on the shard that holds `key`. */
  onKey<T, C>(caller: C, key: string, call: (shard: Shard, routed: RoutedCall<C>) => Promise<T | Failure>): Promise<T | Failure> {
    return this.routed((layout) => call(this.shard(ownerOf(key, layout)), { caller, layout }));
  }

  /** `call` on shard 0, which holds the unit's configuration. */
  onFirst<T, C>(caller: C, call: (shard: Shard, routed: RoutedCall<C>) => Promise<T | Failure>): Promise<T | Failure> {
    return this.routed((layout) => call(this.shard(0), { caller, layout }));
  }

  /** `call` on every shard of the layout; the parts in shard order, or the first failure (MOVED first, to route again). */
  everyShard<T, C>(caller: C, call: (shard: Shard, routed: RoutedCall<C>) => Promise<T | Failure>): Promise<T[] | Failure> {
    return this.routed((layout) => this.onEach(shardIndexes(layout), (index) => call(this.shard(index), { caller, layout })));
  }

  /**
   * A change of unit-wide state on every shard; answers shard 0's result once every shard has
   * it. Shard 0 first: it holds a split's start (split.ts, `settled`), so a change either
   * reaches shard 0 before the new shards are laid with its state, or is routed to them too.
   */
  onAll<T, C>(caller: C, call: (shard: Shard, routed: RoutedCall<C>) => Promise<T | Failure>): Promise<T | Failure> {
    return this.routed(async (layout) => {
      const first = await call(this.shard(0), { caller, layout });
      if (isFailure(first)) return first;
      const rest = await this.onEach(shardIndexes(layout).slice(1), (index) => call(this.shard(index), { caller, layout }));
      return isFailure(rest) ? rest : first;
    });
  }

  /** `call` on each group of `items` by their keys' shards under `layout`, the groups in shard order. */
  onGroups<I, T>(
    items: I[],
    keyOf: (item: I) => string,
    layout: ShardLayout,
    call: (shard: Shard, group: I[]) => Promise<T | Failure>,
  ): Promise<T[] | Failure> {
    const groups = this.byShard(items, keyOf, layout);
    return this.onEach([...groups.keys()], (index) => call(this.shard(index), groups.get(index)!));
  }

  /** The items by the shard of their keys under `layout`, in shard order. */
  byShard<I>(items: I[], keyOf: (item: I) => string, layout: ShardLayout): Map<number, I[]> {
    const groups = new Map<number, I[]>();
    for (const item of items) {
      const index = ownerOf(keyOf(item), layout);
      const group = groups.get(index);
      if (group) group.push(item);
      else groups.set(index, [item]);
    }
    return new Map([...groups].sort(([a], [b]) => a - b));
  }

  /**
   * A shard's work across its unit: `remote` on each group of `items` by their keys' shards,
   * at once, routed by the unit's layout (after a MOVED, every group again by the new one:
   * the calls are made to be repeated); the group of shard `local.shard` is given to
   * `local.run` instead, when it routes by the layout that shard holds. Answers the groups'
   * results with their shard indexes.
   * @example await siblings.onShardsOf(ADMIN, referrers, (r) => r.key, (shard, group, routed) => shard.enqueueReferrers(routed, group), here);
   */
  onShardsOf<I, T, C>(
    caller: C,
    items: I[],
    keyOf: (item: I) => string,
    remote: (shard: Shard, group: I[], routed: RoutedCall<C>, groups: number) => Promise<T | Failure>,
    local?: LocalGroup<I, T>,
  ): Promise<Array<{ index: number; result: T }> | Failure> {
    return this.routed(async (layout) => {
      const groups = this.byShard(items, keyOf, layout);
      const here = local && sameLayout(local.layout, layout) ? local : undefined;
      return this.onEach([...groups.keys()], async (index) => {
        const group = groups.get(index)!;
        const result =
          index === here?.shard ? await here.run(group, groups.size) : await remote(this.shard(index), group, { caller, layout }, groups.size);
        return isFailure(result) ? result : { index, result };
      });
    });
  }

  /** `call` for each index, {@link SHARDS_AT_ONCE} at a time; the results in index order, or the first failure (MOVED first). */
  async onEach<T>(indexes: number[], call: (index: number) => Promise<T | Failure>): Promise<T[] | Failure> {
    const results = new Array<T | Failure>(indexes.length);
    await forEachConcurrently([...indexes.keys()], SHARDS_AT_ONCE, async (position) => {
      results[position] = await call(indexes[position]!);
    });
    const failures = results.filter(isFailure);
    return failures.find((result) => result.error === "MOVED") ?? failures[0] ?? (results as T[]);
  }
}

function changedWhileRouted(unit: string): Failure {
  return failure("OVERLOADED", `storage unit '${unit}' changed its shards while the call was routed; try again`);
}
