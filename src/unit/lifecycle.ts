/**
 * A shard's life: created (shard 0 lays the unit's other shards), described, emptied.
 */
import { failure, isFailure, type Failure } from "../errors";
import { forEachConcurrently } from "../concurrency";
import { ONE_SHARD, type ShardLayout } from "../routing/layout";
import { newSeed } from "../routing/placement";
import type { Alarm } from "./alarm";
import type { ShardInfo } from "./answers";
import type { ConfigStore, UnitConfig } from "./config";
import { ADMIN_CALL } from "./grants";
import { migrate } from "./migrations";
import type { Presence } from "./presence";
import type { Queue } from "./queue";
import type { RecordStore } from "./records";
import type { Peer, Split } from "./split";
import type { Sql, UnitState } from "./sql";

/** Shards laid at once by a creation: the connection limit of one invocation. */
const LAID_AT_ONCE = 6;

type CreateOptions = { contentProcessing: boolean; reprocessingQueue: boolean };

export interface LifecycleHost {
  state: UnitState;
  sql: Sql;
  config: ConfigStore;
  records: RecordStore;
  queue: Queue;
  timer: Alarm;
  presence: Presence;
  split: Split;
  /** shard `index` of the unit `unit` */
  peer(unit: string, index: number): Peer;
}

export class Lifecycle {
  /** shard 0: the creation in flight, the lock a second creation meets */
  private creating: Promise<{ createdAt: number } | Failure> | undefined;

  constructor(private readonly host: LifecycleHost) {}

  /**
   * Creates the unit `name` of `layout.shards` shards (called on shard 0, which draws the
   * unit's placement seed, lays the others, then itself: the unit exists once shard 0 is
   * laid), or lays shard `shard` > 0 of it with shard 0's layout, seed included (called by
   * shard 0). Shard 0 holds the creation's lock: a second creation meanwhile answers
   * STORAGE_UNIT_ALREADY_EXISTS, whatever its count.
   */
  async create(name: string, options: CreateOptions, shard = 0, layout: ShardLayout = ONE_SHARD): Promise<{ createdAt: number } | Failure> {
    const { config, sql } = this.host;
    if (shard === 0) {
      if (config.get() || this.creating)
        return failure("STORAGE_UNIT_ALREADY_EXISTS", `storage unit '${name}' already exists; delete it first or pick another name`);
      this.creating = this.createUnit(name, options, layout).finally(() => {
        this.creating = undefined;
      });
      return this.creating;
    }
    // a shard left by a creation that did not finish (shard 0 was never laid) starts again empty
    if (config.get()) await this.empty();
    migrate(sql);
    config.create(name, options.contentProcessing, options.reprocessingQueue, shard, layout);
    return { createdAt: config.get()!.createdAt };
  }

  /**
   * Shard 0's creation: draws the unit's placement seed (placement.ts), notes how many shards
   * it lays (table `creating`), lays them with that seed, removes those a creation cut short
   * had laid beyond them, then lays itself. The seed is drawn here, under the creation's
   * lock, so every shard of the unit holds the same one; a creation started again draws
   * another and lays every shard anew with it.
   */
  private async createUnit(name: string, options: CreateOptions, requested: ShardLayout): Promise<{ createdAt: number } | Failure> {
    const { sql, config } = this.host;
    const layout: ShardLayout = { shards: requested.shards, splitTo: null, seed: newSeed() };
    migrate(sql);
    const before = sql.first<{ shards: number }>("SELECT shards FROM creating WHERE id = 1")?.shards ?? 0;
    sql.exec("INSERT OR REPLACE INTO creating (id, shards) VALUES (1, ?)", Math.max(before, layout.shards));
    const others = Array.from({ length: layout.shards - 1 }, (_, index) => index + 1);
    const leftovers = Array.from({ length: Math.max(0, before - layout.shards) }, (_, index) => layout.shards + index);
    const failures: Failure[] = [];
    await forEachConcurrently(others, LAID_AT_ONCE, async (index) => {
      const laid = await this.host.peer(name, index).create(name, options, index, layout);
      if (isFailure(laid)) failures.push(laid);
    });
    if (failures[0]) return failures[0];
    await forEachConcurrently(leftovers, LAID_AT_ONCE, async (index) => {
      await this.host.peer(name, index).destroy(ADMIN_CALL);
    });
    sql.transaction(() => {
      config.create(name, options.contentProcessing, options.reprocessingQueue, 0, layout);
      sql.exec("DELETE FROM creating");
    });
    return { createdAt: config.get()!.createdAt };
  }

  /** Removes records, queue, configuration and alarm; the object is left empty and ready to be created again. */
  async empty(): Promise<void> {
    await this.host.state.storage.deleteAll();
    await this.host.timer.clear();
    this.host.presence.forget();
    // deleteAll() clears storage, not this instance's caches; create() lays the schema again
    this.host.config.invalidate();
  }

  info({ modules: _modules, schedules: _schedules, ...rest }: UnitConfig): ShardInfo {
    const { split, records, queue, sql } = this.host;
    return {
      ...rest,
      splitting: split.progress(rest as UnitConfig),
      records: records.count(),
      queue: queue.counts(),
      bytes: sql.databaseSize,
    };
  }
}
