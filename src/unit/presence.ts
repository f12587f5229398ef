/**
 * The unit's place on the registry's list of units the cron visits: listed while it has
 * work or schedules, so a lost alarm is re-armed and schedules fire; taken off by a visit
 * that finds it idle, so the cron does not wake every unit ever created.
 *
 * Invariants: an instance lists its unit at most once (`listed` true) until a call fails or
 * the cron's visit unlists it; listing is never awaited on the request path (a write already
 * committed must not fail because the registry did), and a failed listing is logged and
 * tried again on the next activity.
 */
import { log } from "../log";

/** The one thing presence asks of the registry. */
export interface RegistryPort {
  setActive(name: string, active: boolean): Promise<void>;
}

export interface PresenceHost {
  /** the unit's name; undefined while the unit does not exist */
  unitName(): string | undefined;
  registry: RegistryPort;
}

export class Presence {
  /** what this instance last told the registry (undefined: nothing yet, or it may be stale) */
  private listed: boolean | undefined;

  constructor(private readonly host: PresenceHost) {}

  /** Whether this instance has listed the unit (and no call since has failed): noting activity would do nothing. */
  get isListed(): boolean {
    return this.listed === true;
  }

  /** The unit has work: make sure the registry lists it. Not awaited (see the header). */
  noteActivity(): void {
    const name = this.host.unitName();
    if (!name || this.listed) return;
    this.listed = true;
    this.host.registry.setActive(name, true).catch((error: unknown) => {
      this.listed = undefined;
      log("error", "registry-set-active-failed", { unit: name, error: String(error) });
    });
  }

  /** The unit is idle: take it off the list, unless this instance already did. */
  async unlist(): Promise<void> {
    const name = this.host.unitName();
    if (!name || this.listed === false) return;
    this.listed = false;
    await this.host.registry.setActive(name, false);
  }

  /** The unit was deleted: what the registry holds is no longer known. */
  forget(): void {
    this.listed = undefined;
  }
}
