/**
 * Changes of the state every shard of a unit holds alike (split.ts, `UnitWideState`): flags,
 * settings, modules, schedules, grants. The Worker sends each to shard 0 first, then to the
 * others (src/routing/router.ts, `onAll`); each is made once a split's start in flight has
 * laid its new shards (the guard's `changing`, split.ts `settled`), so it either reaches
 * shard 0 before they are laid with its state, or is routed to them too.
 */
import { failure, type Failure } from "../errors";
import type { ShardLayout } from "../routing/layout";
import type { ModulesConfig, ReprocessingSettings, Schedule } from "../schemas";
import type { ConfigStore, UnitConfig } from "./config";
import type { GrantStore, Permission } from "./grants";
import type { Job } from "./job";
import type { Presence } from "./presence";
import { nextRunTimes, scheduleWithoutPipeline, type ScheduleState } from "./schedules";
import type { Split } from "./split";

export interface UnitWideHost {
  config: ConfigStore;
  grants: GrantStore;
  job: Job;
  presence: Presence;
  split: Split;
}

export class UnitWide {
  constructor(private readonly host: UnitWideHost) {}

  /** Stores an already validated configuration (see checkModulesConfig). */
  setModules(modules: ModulesConfig): { ok: true } {
    this.host.config.update({ modules });
    return { ok: true };
  }

  setFlag(flag: "reprocessingQueue" | "contentProcessing", value: boolean): { ok: true } {
    this.host.config.update({ [flag]: value });
    return { ok: true };
  }

  async setSettings(unit: UnitConfig, patch: Partial<ReprocessingSettings>): Promise<ReprocessingSettings | Failure> {
    const settings = { ...unit.settings, ...patch };
    if (settings.maxBackoffMs < settings.backoffMs) {
      return failure("INVALID_REQUEST", `maxBackoffMs (${settings.maxBackoffMs}) must be at least backoffMs (${settings.backoffMs})`);
    }
    this.host.config.update({ settings });
    await this.host.job.rearm();
    return settings;
  }

  setSchedules(unit: UnitConfig, schedules: Schedule[], now: number): ScheduleState[] | Failure {
    const states = nextRunTimes(schedules, now);
    if ("error" in states) return states;
    const unpiped = scheduleWithoutPipeline(schedules, unit.modules, unit.name);
    if (unpiped) return unpiped;
    this.host.config.update({ schedules: states });
    this.host.presence.noteActivity();
    return states;
  }

  /** Stores a user's grant and token hash, pushed by the registry (a rotation re-sends it with the new hash). */
  setGrant(user: string, tokenHash: string, permission: Permission): { ok: true } {
    this.host.grants.set(user, tokenHash, permission);
    return { ok: true };
  }

  /**
   * Drops a user's grant; `exists` tells whether the unit itself exists, and shard 0 answers
   * its layout once the grant is gone here: the shards the Worker then drops it on (a split
   * starting meanwhile lays its new shards with the grants as they are after this).
   */
  async removeGrant(user: string): Promise<{ exists: boolean; layout?: ShardLayout }> {
    await this.host.split.settled();
    const unit = this.host.config.get();
    if (unit) this.host.grants.remove(user);
    return unit ? { exists: true, layout: unit.layout } : { exists: false };
  }
}
