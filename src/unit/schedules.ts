/** Scheduled `reprocess/all` runs: cron expressions (UTC, minute resolution) parsed by croner. */
import { Cron } from "croner";
import { failure, type Failure } from "../errors";
import { configuredScopes } from "../modules/pipeline";
import { scopeWithoutPipeline } from "./pipeline-scope";
import type { ModulesConfig, Schedule } from "../schemas";

export interface ScheduleState extends Schedule {
  /** ISO time of the next run */
  nextRunAt: string;
}

/** The next run after `now` of each schedule, or the first expression that does not parse. */
export function nextRunTimes(schedules: Schedule[], now: number): ScheduleState[] | Failure {
  const states: ScheduleState[] = [];
  for (const [index, schedule] of schedules.entries()) {
    const where = `schedules[${index}].cron`;
    const fields = schedule.cron.trim().split(/\s+/);
    if (!schedule.cron.trim().startsWith("@") && fields.length !== 5) {
      return failure(
        "INVALID_REQUEST",
        `${where}: '${schedule.cron}' must have 5 fields (minute hour day-of-month month day-of-week), e.g. "0 3 * * *"`,
      );
    }
    let next: Date | null;
    try {
      next = new Cron(schedule.cron, { timezone: "UTC", paused: true }).nextRun(new Date(now));
    } catch (error) {
      return failure("INVALID_REQUEST", `${where}: '${schedule.cron}' is not a valid cron expression (${(error as Error).message})`);
    }
    if (!next) return failure("INVALID_REQUEST", `${where}: '${schedule.cron}' never runs again`);
    states.push({ scope: schedule.scope, cron: schedule.cron, nextRunAt: next.toISOString() });
  }
  return states;
}

/**
 * A schedule reprocesses its scope through that scope's pipeline: one on a scope without a
 * pipeline would run nothing, so it is refused when set. (A pipeline removed later leaves its
 * schedules in place: their runs queue the scope's keys, which complete at once, as any item
 * of a scope without a pipeline does.)
 */
export function scheduleWithoutPipeline(schedules: Schedule[], modules: ModulesConfig, unitName: string): Failure | undefined {
  const piped = configuredScopes(modules, { withModules: true });
  for (const [index, { scope }] of schedules.entries()) {
    const refused = scopeWithoutPipeline({
      where: `schedules[${index}].scope`,
      scope,
      piped,
      unit: unitName,
      outcome: "a scheduled run would do nothing",
    });
    if (refused) return refused;
  }
  return undefined;
}
