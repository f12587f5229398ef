/**
 * The one check in front of every RPC method of a unit: that the unit exists and, for the
 * methods open to users, that the caller may do what the method needs. Each method names
 * its guard and its need where it starts (`guard.withUnit(caller, "read", ...)`), so a
 * reader sees there who may call it, and its answer keeps its type (the method's own, or
 * the {@link Failure} that refused it).
 *
 * Invariants: `fn` runs only once the call is allowed; a user is never told whether a unit
 * exists that granted them nothing (a unit never created answers UNAUTHORIZED, as a unit
 * that does not know the token does); the admin is told STORAGE_UNIT_DOESNT_EXIST.
 */
import { failure, type Failure } from "../errors";
import type { UnitConfig } from "./config";
import type { Caller, GrantStore, Need } from "./grants";
import { moved, servesAsRouted } from "../routing/layout";

export interface GuardHost {
  /** the unit's configuration; undefined while it does not exist */
  config(): UnitConfig | undefined;
  grants: Pick<GrantStore, "refusal">;
  /** once a split's start in flight on this shard has laid its new shards (split.ts, `settled`) */
  settled(): Promise<void> | undefined;
}

export class Guard {
  constructor(private readonly host: GuardHost) {}

  /** `fn` applied to the unit when `caller` may do `need` here: the admin always, a user whose grant on this unit covers it. */
  withUnit<T>(caller: Caller, need: Need, fn: (unit: UnitConfig) => T): T | Failure {
    const unit = this.host.config();
    if (caller.kind === "admin") return this.withExisting(caller, fn);
    // the route asks the registry whether the token is a user's at all, for 401 or 403
    if (!unit) return failure("UNAUTHORIZED", "the token is not valid; check the Authorization header");
    return this.host.grants.refusal(caller.tokenHash, need, unit.name) ?? this.routed(caller, unit, fn);
  }

  /** {@link withUnit}, for the reprocessing queue's methods: refused while the unit's queue is disabled. */
  withQueue<T>(caller: Caller, need: Need, fn: (unit: UnitConfig) => T): T | Failure {
    return this.withUnit(caller, need, (unit) =>
      unit.reprocessingQueue
        ? fn(unit)
        : failure(
            "REPROCESSING_QUEUE_DISABLED",
            `the reprocessing queue of '${unit.name}' is disabled; enable it with PUT /admin/enableReprocessingQueue/${unit.name}/true`,
          ),
    );
  }

  /**
   * {@link withUnit}, for a change of the state every shard holds alike (unit-wide.ts): made
   * once a split's start in flight has laid its new shards, so that it reaches them.
   */
  async changing<T>(caller: Caller, need: Need, fn: (unit: UnitConfig) => T | Promise<T>): Promise<T | Failure> {
    await this.host.settled();
    return this.withUnit(caller, need, fn);
  }

  /** Why `caller` may not do `need` here now, if it may not: for a call that checks again after waiting its turn. */
  refusal(caller: Caller, need: Need): Failure | undefined {
    return this.withUnit(caller, need, () => undefined);
  }

  /** `fn` applied to the unit, or STORAGE_UNIT_DOESNT_EXIST: for the methods only the admin's routes (and the registry) call. */
  withExisting<T>(caller: Caller, fn: (unit: UnitConfig) => T): T | Failure {
    const unit = this.host.config();
    return unit
      ? this.routed(caller, unit, fn)
      : failure("STORAGE_UNIT_DOESNT_EXIST", "no such storage unit; create it with PUT /admin/createStorageUnit/<unit>");
  }

  /**
   * A call routed by a layout older than this shard's (or another incarnation's) is answered
   * MOVED with the layout to route by (see grants.ts, `Routed`); one routed by a later layout
   * is served: this shard has not yet heard of a split step its caller has (layout.ts,
   * `servesAsRouted`); so is the Worker's guess of one shard at a unit of one shard.
   */
  private routed<T>(caller: Caller, unit: UnitConfig, fn: (unit: UnitConfig) => T): T | Failure {
    if (caller.layout && !servesAsRouted(caller.layout, unit.layout)) return moved(unit.layout);
    return fn(unit);
  }
}
