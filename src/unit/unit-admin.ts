import { failure, type Failure } from "../errors";
import type { ModulesConfig, ReprocessingSettings, Schedule } from "../schemas";
import type { UnitConfig } from "./config";
import { ADMIN, type AdminCaller, type Need, type Permission, type UserCaller } from "./grants";
import { migrate } from "./migrations";
import type { Reference, Referrer } from "./references";
import { nextRunTimes, scheduleWithoutPipeline, type ScheduleState } from "./schedules";
import type { ShardInfo } from "./answers";
import { ONE_SHARD, type ShardLayout } from "../shards/layout";
import type { SplitAnswer, SplitCall } from "./split";

/** When an alarm that was moving keys is due again if it dies on the way (it re-arms sooner when it ends). */
const _SPLIT_WATCHDOG_MS = 30_000;

import { UnitCore } from "./unit-core";

export abstract class UnitAdmin extends UnitCore {
  // ── admin ────────────────────────────────────────────────────────────────
  // Only the admin's routes (and the registry) call these.

  /** Lays shard `shard` of unit `name`; shard 0 decides whether the unit exists, and is laid last (sharded-unit.ts). */
  async create(
    name: string,
    options: { contentProcessing: boolean; reprocessingQueue: boolean },
    shard = 0,
    layout: ShardLayout = ONE_SHARD,
  ): Promise<{ createdAt: number } | Failure> {
    if (this.config.get()) {
      if (shard === 0) return failure("STORAGE_UNIT_ALREADY_EXISTS", `storage unit '${name}' already exists; delete it first or pick another name`);
      // a shard left by a creation that did not finish (shard 0 was never laid) starts again empty
      await this.destroy(ADMIN);
    }
    migrate(this.sql);
    this.config.create(name, options.contentProcessing, options.reprocessingQueue, shard, layout);
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
    return this.guard.withExisting(caller, () => {
      this.config.update({ modules });
      return { ok: true };
    });
  }

  async setFlag(caller: AdminCaller, flag: "reprocessingQueue" | "contentProcessing", value: boolean): Promise<{ ok: true } | Failure> {
    return this.guard.withExisting(caller, () => {
      this.config.update({ [flag]: value });
      return { ok: true };
    });
  }

  async setSettings(caller: AdminCaller, patch: Partial<ReprocessingSettings>): Promise<ReprocessingSettings | Failure> {
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
    return this.guard.withExisting(caller, () => {
      this.grants.set(user, tokenHash, permission);
      return { ok: true };
    });
  }

  /** Drops a user's grant; `exists` tells whether the unit itself exists. */
  async removeGrant(user: string): Promise<{ exists: boolean }> {
    const exists = this.config.get() !== undefined;
    if (exists) this.grants.remove(user);
    return { exists };
  }

  /** The grant check alone, for a user's request that must be refused before its body is read. */
  async checkAccess(caller: UserCaller, need: Need): Promise<{ ok: true } | Failure> {
    return this.guard.withUnit(caller, need, () => ({ ok: true }));
  }

  // ── splitting ────────────────────────────────────────────────────────────

  /** The steps of a split (split.ts), called by the Worker's splitStorageUnit and by the unit's shards. */
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
      this.across.enqueue(referrers);
      await this.afterEnqueue(false);
      return { ok: true as const };
    });
  }
}
