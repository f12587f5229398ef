import { failure, isFailure, type Failure } from "../errors";
import { forEachConcurrently } from "../concurrency";
import type { ModulesConfig, ReprocessingSettings, Schedule } from "../schemas";
import type { UnitConfig } from "./config";
import { ADMIN, type AdminCaller, type Need, type Permission, type UserCaller } from "./grants";
import { migrate } from "./migrations";
import type { Reference, Referrer } from "./references";
import { nextRunTimes, scheduleWithoutPipeline, type ScheduleState } from "./schedules";
import type { ShardInfo } from "./answers";
import { ONE_SHARD, type ShardLayout } from "../routing/layout";
import { newSeed } from "../routing/placement";
import type { SplitAnswer, SplitCall } from "./split";

import { UnitCore } from "./unit-core";

/** Shards laid at once by a creation: the connection limit of one invocation. */
const LAID_AT_ONCE = 6;

type CreateOptions = { contentProcessing: boolean; reprocessingQueue: boolean };

export abstract class UnitAdmin extends UnitCore {
  /** shard 0: the creation in flight, the lock a second creation meets */
  private creating: Promise<{ createdAt: number } | Failure> | undefined;

  // ── admin ────────────────────────────────────────────────────────────────
  // Only the admin's routes (and the registry) call these.

  /**
   * Creates the unit `name` of `layout.shards` shards (called on shard 0, which draws the
   * unit's placement seed, lays the others, then itself: the unit exists once shard 0 is
   * laid), or lays shard `shard` > 0 of it with shard 0's layout, seed included (called by
   * shard 0). Shard 0 holds the creation's lock: a second creation meanwhile answers
   * STORAGE_UNIT_ALREADY_EXISTS, whatever its count.
   */
  async create(name: string, options: CreateOptions, shard = 0, layout: ShardLayout = ONE_SHARD): Promise<{ createdAt: number } | Failure> {
    if (shard === 0) {
      if (this.config.get() || this.creating)
        return failure("STORAGE_UNIT_ALREADY_EXISTS", `storage unit '${name}' already exists; delete it first or pick another name`);
      this.creating = this.createUnit(name, options, layout).finally(() => {
        this.creating = undefined;
      });
      return this.creating;
    }
    // a shard left by a creation that did not finish (shard 0 was never laid) starts again empty
    if (this.config.get()) await this.destroy(ADMIN);
    migrate(this.sql);
    this.config.create(name, options.contentProcessing, options.reprocessingQueue, shard, layout);
    return { createdAt: this.config.get()!.createdAt };
  }

  /**
   * Shard 0's creation: draws the unit's placement seed (placement.ts), notes how many shards
   * it lays (table `creating`), lays them with that seed, removes those a creation cut short
   * had laid beyond them, then lays itself. The seed is drawn here, under the creation's
   * lock, so every shard of the unit holds the same one; a creation started again draws
   * another and lays every shard anew with it.
   */
  private async createUnit(name: string, options: CreateOptions, requested: ShardLayout): Promise<{ createdAt: number } | Failure> {
    const layout: ShardLayout = { shards: requested.shards, splitTo: null, seed: newSeed() };
    migrate(this.sql);
    const before = this.sql.first<{ shards: number }>("SELECT shards FROM creating WHERE id = 1")?.shards ?? 0;
    this.sql.exec("INSERT OR REPLACE INTO creating (id, shards) VALUES (1, ?)", Math.max(before, layout.shards));
    const others = Array.from({ length: layout.shards - 1 }, (_, index) => index + 1);
    const leftovers = Array.from({ length: Math.max(0, before - layout.shards) }, (_, index) => layout.shards + index);
    const failures: Failure[] = [];
    await forEachConcurrently(others, LAID_AT_ONCE, async (index) => {
      const laid = await this.peer(name, index).create(name, options, index, layout);
      if (isFailure(laid)) failures.push(laid);
    });
    if (failures[0]) return failures[0];
    await forEachConcurrently(leftovers, LAID_AT_ONCE, async (index) => {
      await this.peer(name, index).destroy(ADMIN);
    });
    this.sql.transaction(() => {
      this.config.create(name, options.contentProcessing, options.reprocessingQueue, 0, layout);
      this.sql.exec("DELETE FROM creating");
    });
    return { createdAt: this.config.get()!.createdAt };
  }

  /** Removes records, queue, configuration and alarm; the object is left empty and ready to be created again. */
  async destroy(caller: AdminCaller): Promise<{ name: string } | Failure> {
    return this.guard.withExisting(caller, async (unit) => {
      await this.state.storage.deleteAll();
      await this.timer.clear();
      this.presence.forget();
      // deleteAll() clears storage, not this instance's caches; create() lays the schema again
      this.config.invalidate();
      return { name: unit.name };
    });
  }

  async info(caller: AdminCaller): Promise<ShardInfo | Failure> {
    return this.guard.withExisting(caller, ({ modules: _modules, schedules: _schedules, ...rest }) => ({
      ...rest,
      splitting: this.split.progress(rest as UnitConfig),
      records: this.records.count(),
      queue: this.queue.counts(),
      bytes: this.sql.databaseSize,
    }));
  }

  async getModules(caller: AdminCaller): Promise<ModulesConfig | Failure> {
    return this.guard.withExisting(caller, (unit) => unit.modules);
  }

  /** Stores an already validated configuration (see checkModulesConfig). */
  async setModules(caller: AdminCaller, modules: ModulesConfig): Promise<{ ok: true } | Failure> {
    await this.split.settled();
    return this.guard.withExisting(caller, () => {
      this.config.update({ modules });
      return { ok: true };
    });
  }

  async setFlag(caller: AdminCaller, flag: "reprocessingQueue" | "contentProcessing", value: boolean): Promise<{ ok: true } | Failure> {
    await this.split.settled();
    return this.guard.withExisting(caller, () => {
      this.config.update({ [flag]: value });
      return { ok: true };
    });
  }

  async setSettings(caller: AdminCaller, patch: Partial<ReprocessingSettings>): Promise<ReprocessingSettings | Failure> {
    await this.split.settled();
    return this.guard.withExisting(caller, async (unit) => {
      const settings = { ...unit.settings, ...patch };
      if (settings.maxBackoffMs < settings.backoffMs) {
        return failure("INVALID_REQUEST", `maxBackoffMs (${settings.maxBackoffMs}) must be at least backoffMs (${settings.backoffMs})`);
      }
      this.config.update({ settings });
      await this.job.rearm();
      return settings;
    });
  }

  async setSchedules(caller: AdminCaller, schedules: Schedule[], now = Date.now()): Promise<ScheduleState[] | Failure> {
    await this.split.settled();
    return this.guard.withExisting(caller, (unit) => {
      const states = nextRunTimes(schedules, now);
      if ("error" in states) return states;
      const unpiped = scheduleWithoutPipeline(schedules, unit.modules, unit.name);
      if (unpiped) return unpiped;
      this.config.update({ schedules: states });
      this.presence.noteActivity();
      return states;
    });
  }

  async getSchedules(caller: AdminCaller): Promise<ScheduleState[] | Failure> {
    return this.guard.withExisting(caller, (unit) => unit.schedules as ScheduleState[]);
  }

  // ── security ─────────────────────────────────────────────────────────────

  /** Stores a user's grant and token hash, pushed by the registry (a rotation re-sends it with the new hash). */
  async setGrant(caller: AdminCaller, user: string, tokenHash: string, permission: Permission): Promise<{ ok: true } | Failure> {
    await this.split.settled();
    return this.guard.withExisting(caller, () => {
      this.grants.set(user, tokenHash, permission);
      return { ok: true };
    });
  }

  /**
   * Drops a user's grant; `exists` tells whether the unit itself exists, and shard 0 answers
   * its layout once the grant is gone here: the shards the Worker then drops it on (a split
   * starting meanwhile lays its new shards with the grants as they are after this).
   */
  async removeGrant(user: string): Promise<{ exists: boolean; layout?: ShardLayout }> {
    await this.split.settled();
    const unit = this.config.get();
    if (unit) this.grants.remove(user);
    return unit ? { exists: true, layout: unit.layout } : { exists: false };
  }

  /** The grant check alone, for a user's request that must be refused before its body is read. */
  async checkAccess(caller: UserCaller, need: Need): Promise<{ ok: true } | Failure> {
    return this.guard.withUnit(caller, need, () => ({ ok: true }));
  }

  // ── splitting ────────────────────────────────────────────────────────────

  /** The steps of a split (split.ts): "begin" called by the Worker's splitStorageUnit on shard 0, the others by the unit's shards. */
  async splitting<C extends SplitCall>(caller: AdminCaller, call: C): Promise<SplitAnswer<C> | Failure> {
    // a new shard is laid where the unit does not exist yet
    if (call.op === "lay") return this.split.lay(call) as Promise<SplitAnswer<C>>;
    return this.guard.withExisting(caller, (unit) => this.split.handle(unit, call));
  }

  // ── across shards: a shard's calls to the others of its unit (across-shards.ts) ──

  /** `scope` of this shard's `keys` as JSON texts within `maxBytes`, once the reverse rows the reader sends are set. */
  async readContents(caller: AdminCaller, keys: string[], scope: string, maxBytes: number, references: Reference[]) {
    return this.guard.withExisting(caller, () => this.across.readHere(keys, scope, maxBytes, references));
  }

  /** Reverse rows of this shard's keys, from their referrers' shards. */
  async applyReferences(caller: AdminCaller, references: Reference[]) {
    return this.guard.withExisting(caller, () => this.across.arrive(references));
  }

  /** Referrers on this shard of a key that changed on another: no step of its own, since the sender waits on this call in its step. */
  async enqueueReferrers(caller: AdminCaller, referrers: Referrer[]) {
    return this.guard.withExisting(caller, async () => {
      const queued = await this.across.enqueue(referrers);
      await this.afterEnqueue(false);
      return queued;
    });
  }
}
