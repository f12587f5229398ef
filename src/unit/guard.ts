/**
 * The one check in front of every RPC method of a unit: that the unit exists and, for the
 * methods open to users, that the caller may do what the method needs. Each method names
 * its guard and its need where it starts (`guard.withUnit(call, "read", ...)`), so a
 * reader sees there who may call it, and its answer keeps its type (the method's own, or
 * the {@link Failure} that refused it).
 *
 * Each takes the call as it came (src/routing/router.ts, `RoutedCall`): its caller, and the
 * layout it was routed by, which this shard checks against its own.
 *
 * Invariants: `fn` runs only once the call is allowed; a user is never told whether a unit
 * exists that granted them nothing (a unit never created answers UNAUTHORIZED, as a unit
 * that does not know the token does); the admin is told STORAGE_UNIT_DOESNT_EXIST.
 */
import { failure, type Failure } from "../errors";
import type { UnitConfig } from "./config";
import type { Caller, GrantStore, Need } from "./grants";
import { moved, servesAsRouted } from "../routing/layout";
import type { RoutedCall } from "../routing/router";

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
  withUnit<T>(call: RoutedCall<Caller>, need: Need, fn: (unit: UnitConfig) => T): T | Failure {
    const unit = this.host.config();
    const { caller } = call;
    if (caller.kind === "admin") return this.withExisting(call, fn);
    // the route asks the registry whether the token is a user's at all, for 401 or 403
    if (!unit) return failure("UNAUTHORIZED", "the token is not valid; check the Authorization header");
    return this.host.grants.refusal(caller.tokenHash, need, unit.name) ?? this.routed(call, unit, fn);
  }

  /** {@link withUnit}, for the reprocessing queue's methods: refused while the unit's queue is disabled. */
  withQueue<T>(call: RoutedCall<Caller>, need: Need, fn: (unit: UnitConfig) => T): T | Failure {
    return this.withUnit(call, need, (unit) =>
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
  async changing<T>(call: RoutedCall<Caller>, need: Need, fn: (unit: UnitConfig) => T | Promise<T>): Promise<T | Failure> {
    await this.host.settled();
    return this.withUnit(call, need, fn);
  }

  /** Why `call` may not do `need` here now, if it may not: for a call that checks again after waiting its turn. */
  refusal(call: RoutedCall<Caller>, need: Need): Failure | undefined {
    return this.withUnit(call, need, () => undefined);
  }

  /** `fn` applied to the unit, or STORAGE_UNIT_DOESNT_EXIST: for the methods only the admin's routes (and the registry) call. */
  withExisting<T>(call: RoutedCall<Caller>, fn: (unit: UnitConfig) => T): T | Failure {
    const unit = this.host.config();
    return unit
      ? this.routed(call, unit, fn)
      : failure("STORAGE_UNIT_DOESNT_EXIST", "no such storage unit; create it with PUT /admin/createStorageUnit/<unit>");
  }

  /**
   * A call routed by a layout older than this shard's (or another incarnation's) is answered
   * MOVED with the layout to route by; one routed by a later layout
   * is served: this shard has not yet heard of a split step its caller has (layout.ts,
   * `servesAsRouted`); so is the Worker's guess of one shard at a unit of one shard.
   */
  private routed<T>({ layout }: RoutedCall<Caller>, unit: UnitConfig, fn: (unit: UnitConfig) => T): T | Failure {
    if (layout && !servesAsRouted(layout, unit.layout)) return moved(unit.layout);
    return fn(unit);
  }
}
