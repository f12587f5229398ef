/**
 * The unit's one alarm (the platform's, which runs the reprocessing job), with the time this
 * instance last set. The job re-arms after every change and every run, mostly to the time
 * already set: the cache spares that storage write.
 *
 * Invariant: `at` is the alarm as this instance last left it, or undefined when it cannot
 * know (a fired alarm has cleared itself; the cron's visit trusts no cache). Anything that
 * changes the alarm goes through this class.
 */
import type { UnitStorage } from "./sql";

/** What the alarm needs of the object's storage. */
export type AlarmHost = Pick<UnitStorage, "getAlarm" | "setAlarm" | "deleteAlarm">;

export class Alarm {
  /** the alarm time last set by this instance (null: none; undefined: not known) */
  private at: number | null | undefined;

  constructor(private readonly host: AlarmHost) {}

  /** Arms the alarm at `at` (null clears it); no storage write when that is already so. */
  async set(at: number | null): Promise<void> {
    if (at === this.at) return;
    if (at === null) await this.host.deleteAlarm();
    else await this.host.setAlarm(at);
    this.at = at;
  }

  /** Clears the alarm whatever this instance believes (the unit is being deleted). */
  async clear(): Promise<void> {
    await this.host.deleteAlarm();
    this.at = null;
  }

  /** The alarm as this instance last left it (null: none; undefined: not known). */
  get known(): number | null | undefined {
    return this.at;
  }

  /** Forgets the time last set: the next `set` writes it. */
  forget(): void {
    this.at = undefined;
  }

  /** The alarm as storage holds it now (null: none). */
  stored(): Promise<number | null> {
    return this.host.getAlarm();
  }
}
