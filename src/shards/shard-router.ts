/**
 * How a unit's shards are reached (see sharded-unit.ts): the layout cache, MOVED and the
 * fan-out, at most {@link SHARDS_AT_ONCE} shards at a time. The unit's routes are built on it.
 */
import type { Env } from "../env";
import { failure, isFailure, type Failure } from "../errors";
import { forEachConcurrently } from "../concurrency";
import { ADMIN, type Caller } from "../unit/grants";
import type { StorageUnit } from "../unit/storage-unit";
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

/** A shard's RPC methods with the answers they are written to give (a stub's types wrap them for RPC). */
export type Stub = { [K in keyof StorageUnit as StorageUnit[K] extends (...args: never[]) => Promise<unknown> ? K : never]: StorageUnit[K] };

export class ShardRouter {
  constructor(
    protected readonly env: Pick<Env, "STORAGE_UNIT">,
    readonly name: string,
    known?: ShardLayout,
  ) {
    // a shard calling its own unit starts from the layout it holds, rather than from one shard and a MOVED
    if (known && !layouts.has(name)) layouts.set(name, known);
  }

  /** The layout calls are routed by now; `forget`: the unit is gone, learn it again. */
  protected cachedLayout(): ShardLayout | undefined {
    return layouts.get(this.name);
  }

  protected remember(layout: ShardLayout | undefined): void {
    if (layout) layouts.set(this.name, layout);
    else layouts.delete(this.name);
  }

  protected shard(index: number): Stub {
    return this.env.STORAGE_UNIT.getByName(shardName(this.name, index)) as unknown as Stub;
  }

  /**
   * Runs `call` by the cached layout; after a MOVED answer, again by the layout it names. A
   * refusal (no such unit, a token unknown there) by a layout of several shards may come of
   * a stale guess (the unit was made again with fewer shards): shard 0 is asked its layout,
   * and the call made again only when it differs, so a user refused on one shard does not
   * make anyone else's next call cost a hop. MOVED never leaves this method.
   */
  protected async routed<T>(call: (layout: ShardLayout) => Promise<T | Failure>): Promise<T | Failure> {
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
        const current = await this.shard(0).info(ADMIN);
        const now = isFailure(current) ? undefined : current.layout;
        if (now && sameLayout(now, layout)) return result;
        this.remember(now);
        continue;
      }
      if (isFailure(result) && result.error === "MOVED")
        return failure("OVERLOADED", `storage unit '${this.name}' changed its shards while the call was routed; try again`);
      return result;
    }
    return failure("OVERLOADED", `storage unit '${this.name}' changed its shards while the call was routed; try again`);
  }

  /** The unit's layout from shard 0 (undefined when the unit does not exist), cached. */
  protected async layoutOf(): Promise<ShardLayout | undefined> {
    const info = await this.routed((layout) => this.shard(0).info({ kind: "admin", layout }));
    return isFailure(info) ? undefined : info.layout;
  }

  protected onKey<T>(caller: Caller, key: string, call: (shard: Stub, routed: Caller) => Promise<T | Failure>): Promise<T | Failure> {
    return this.routed((layout) => call(this.shard(ownerOf(key, layout)), { ...caller, layout }));
  }

  /** `call` on every shard of the layout; the parts in shard order, or the first failure (MOVED first, to route again). */
  protected everyShard<T, C extends Caller = Caller>(
    caller: C,
    call: (shard: Stub, routed: C) => Promise<T | Failure>,
    fixed?: ShardLayout,
  ): Promise<T[] | Failure> {
    const run = (layout: ShardLayout) => this.onEach(shardIndexes(layout), (index) => call(this.shard(index), { ...caller, layout }));
    return fixed ? run(fixed) : this.routed(run);
  }

  /**
   * A change of unit-wide state on every shard; answers shard 0's result once every shard has
   * it. Shard 0 first: it holds a split's start (split.ts, `settled`), so a change either
   * reaches shard 0 before the new shards are laid with its state, or is routed to them too.
   */
  protected async onAll<T, C extends Caller>(caller: C, call: (shard: Stub, routed: C) => Promise<T | Failure>): Promise<T | Failure> {
    return this.routed(async (layout) => {
      const first = await call(this.shard(0), { ...caller, layout });
      if (isFailure(first)) return first;
      const rest = await this.onEach(shardIndexes(layout).slice(1), (index) => call(this.shard(index), { ...caller, layout }));
      return isFailure(rest) ? rest : first;
    });
  }

  /** `call` on each group of `items` by their keys' shards, the groups in shard order. */
  protected onGroups<I, T>(
    items: I[],
    keyOf: (item: I) => string,
    layout: ShardLayout,
    call: (shard: Stub, group: I[]) => Promise<T | Failure>,
  ): Promise<T[] | Failure> {
    const groups = this.byShard(items, keyOf, layout);
    return this.onEach([...groups.keys()], (index) => call(this.shard(index), groups.get(index)!));
  }

  protected byShard<I>(items: I[], keyOf: (item: I) => string, layout: ShardLayout): Map<number, I[]> {
    const groups = new Map<number, I[]>();
    for (const item of items) {
      const index = ownerOf(keyOf(item), layout);
      const group = groups.get(index);
      if (group) group.push(item);
      else groups.set(index, [item]);
    }
    return new Map([...groups].sort(([a], [b]) => a - b));
  }

  /** `call` for each index, {@link SHARDS_AT_ONCE} at a time; the results in index order, or the first failure (MOVED first). */
  protected async onEach<T>(indexes: number[], call: (index: number) => Promise<T | Failure>): Promise<T[] | Failure> {
    const results = new Array<T | Failure>(indexes.length);
    await forEachConcurrently([...indexes.keys()], SHARDS_AT_ONCE, async (position) => {
      results[position] = await call(indexes[position]!);
    });
    const failures = results.filter(isFailure);
    return failures.find((result) => result.error === "MOVED") ?? failures[0] ?? (results as T[]);
  }
}
