/**
 * How a unit's shards are reached (see sharded-unit.ts): the layout cache, MOVED and the
 * fan-out, at most {@link SHARDS_AT_ONCE} shards at a time. The unit's routes are built on it.
 */
import type { Env } from "../env";
import { isFailure, type Failure } from "../errors";
import { forEachConcurrently } from "../concurrency";
import type { Caller } from "../unit/grants";
import type { StorageUnit } from "../unit/storage-unit";
import { ONE_SHARD, shardIndexes, shardName, shardOf, type ShardLayout } from "./layout";

/** Shards called at once: the connection limit of one Worker invocation. */
export const SHARDS_AT_ONCE = 6;

/** Each unit's layout as this isolate last learnt it; absent: one shard, until a shard says otherwise. */
const layouts = new Map<string, ShardLayout>();

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
   * Runs `call` by the cached layout; after a MOVED answer, again by the layout it names.
   * A shard other than 0 that knows no such unit may be a stale guess (the unit was made again
   * with fewer shards): shard 0 then decides.
   */
  protected async routed<T>(call: (layout: ShardLayout) => Promise<T | Failure>): Promise<T | Failure> {
    for (let attempt = 0; ; attempt++) {
      const layout = this.cachedLayout() ?? ONE_SHARD;
      const result = await call(layout);
      if (!isFailure(result) || attempt >= 3) return result;
      if (result.error === "MOVED") this.remember(JSON.parse(result.detail) as ShardLayout);
      else if (layout.shards > 1 && (result.error === "STORAGE_UNIT_DOESNT_EXIST" || result.error === "UNAUTHORIZED")) this.remember(undefined);
      else return result;
    }
  }

  /** The unit's layout from shard 0 (undefined when the unit does not exist), cached. */
  protected async layoutOf(): Promise<ShardLayout | undefined> {
    const info = await this.routed((layout) => this.shard(0).info({ kind: "admin", layout }));
    return isFailure(info) ? undefined : info.layout;
  }

  protected onKey<T>(caller: Caller, key: string, call: (shard: Stub, routed: Caller) => Promise<T | Failure>): Promise<T | Failure> {
    return this.routed((layout) => call(this.shard(shardOf(key, layout.shards)), { ...caller, layout }));
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

  /** A change of unit-wide state on every shard; answers shard 0's result once every shard has it. */
  protected async onAll<T, C extends Caller>(caller: C, call: (shard: Stub, routed: C) => Promise<T | Failure>): Promise<T | Failure> {
    const parts = await this.everyShard(caller, call);
    return isFailure(parts) ? parts : parts[0]!;
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
      const index = shardOf(keyOf(item), layout.shards);
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
