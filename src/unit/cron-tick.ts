/**
 * The cron trigger's visit to one unit (`StorageUnit.tick`, once a minute for each unit the
 * registry lists): starts the `reprocess/all` of each schedule that is due and moves it to
 * its next run, re-arms an alarm that was lost, and takes an idle unit off the list.
 *
 * Invariants: a schedule runs at most once per due time (it is moved on in the same visit,
 * so a repeated tick finds it no longer due); the visit trusts no alarm cache (it re-reads
 * the alarm from storage); a unit with schedules stays listed even when it has no work.
 */
import type { Alarm } from "./alarm";
import type { UnitConfig } from "./config";
import type { Presence } from "./presence";
import { nextRunTimes, type ScheduleState } from "./schedules";

export interface CronTickHost {
  /** the unit's schedules; undefined while the unit does not exist */
  unit(): Pick<UnitConfig, "schedules"> | undefined;
  saveSchedules(schedules: ScheduleState[]): void;
  /** starts the run `runId` over every live record of the scope, as `reprocess/all` does */
  startRun(scope: string, runId: string): void;
  /** whether the queue or a fill holds unfinished work */
  hasWork(): boolean;
  alarm: Pick<Alarm, "forget" | "stored">;
  /** arms the alarm for the next thing to do (the job's) */
  rearm(): Promise<void>;
  presence: Pick<Presence, "unlist">;
}

export class CronTick {
  constructor(private readonly host: CronTickHost) {}

  /** One visit at `now`; returns whether the unit exists. */
  async run(now: number): Promise<{ exists: boolean }> {
    const unit = this.host.unit();
    if (!unit) return { exists: false };
    // the configuration stores schedules as setSchedules laid them: with their next run
    const schedules = unit.schedules as ScheduleState[];
    const due = schedules.filter((schedule) => Date.parse(schedule.nextRunAt) <= now);
    if (due.length > 0) {
      // each shard of a unit runs its own tick over the same schedules: the run is named by what
      // came due, so every shard files its share under one id and the schedule starts one run
      for (const schedule of due) this.host.startRun(schedule.scope, scheduledRunId(schedule));
      const rescheduled = nextRunTimes(schedules, now);
      if (!("error" in rescheduled)) this.host.saveSchedules(rescheduled);
    }
    this.host.alarm.forget();
    if (due.length > 0 || (await this.host.alarm.stored()) === null) await this.host.rearm();
    if (!this.host.hasWork() && schedules.length === 0) await this.host.presence.unlist();
    return { exists: true };
  }
}

/** The id of the run a schedule starts when it comes due: the same on every shard of the unit. */
export function scheduledRunId(schedule: ScheduleState): string {
  return `schedule-${schedule.scope}-${Date.parse(schedule.nextRunAt).toString(36)}`;
}
