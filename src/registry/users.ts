/**
 * The users of the Security API, kept by the registry: each user's token hash and grants.
 * Every change is pushed to the units concerned, which check requests with their own copy
 * (src/unit/grants.ts); this list answers `GET /security/users` and tells a refused
 * token that belongs to some user (403) from an unknown one (401).
 *
 * Tables: `users` (name, token_hash, created_at), `user_grants` (user, unit, permission);
 * laid by the registry's migrations (migrations.ts).
 *
 * Invariants: changes run one at a time (`serial`), so two fan-outs never interleave and a
 * unit cannot end up holding a stale token hash. Units are updated before this list:
 * a rotation or revocation that fails half-way leaves the list showing the old state and
 * the admin's retry (same call again) finishes it; the new token is shown only once every
 * unit has it.
 */
import { forEachConcurrently } from "../concurrency";
import { failure, type Failure } from "../errors";
import { ADMIN, type Permission } from "../unit/grants";
import type { Sql } from "../unit/sql";
import type { ShardedUnit } from "../shards/protocol";

/** Units updated at once: stays within the 6 open connections of one invocation. */
const UNITS_AT_ONCE = 6;

export interface UserListing {
  name: string;
  grants: Record<string, Permission>;
}

/** A unit over all its shards: the grants are unit-wide state, on every shard. */
type UnitOf = (name: string) => Pick<ShardedUnit, "setGrant" | "removeGrant">;

export class UserDirectory {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly sql: Sql,
    private readonly unitOf: UnitOf,
  ) {}

  /** Creates the user, or gives it a new token hash (the old token stops working on every unit). */
  putUser(name: string, tokenHash: string): Promise<{ created: boolean }> {
    return this.serial(async () => {
      const created = !this.exists(name);
      await this.forEachGrant(name, async (unit, permission) => {
        const result = await this.unitOf(unit).setGrant(ADMIN, name, tokenHash, permission);
        // the unit was deleted without the registry hearing of it: forget the grant
        if ("error" in result) this.sql.exec("DELETE FROM user_grants WHERE user_name = ? AND unit = ?", name, unit);
      });
      this.sql.exec(
        "INSERT INTO users (name, token_hash, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET token_hash = excluded.token_hash",
        name,
        tokenHash,
        Date.now(),
      );
      return { created };
    });
  }

  /** Removes the user, its token and its grants on every unit. */
  deleteUser(name: string): Promise<{ ok: true } | Failure> {
    return this.serial(async () => {
      if (!this.exists(name)) return userNotFound(name);
      await this.forEachGrant(name, async (unit) => {
        await this.unitOf(unit).removeGrant(name);
      });
      this.sql.transaction(() => {
        this.sql.exec("DELETE FROM user_grants WHERE user_name = ?", name);
        this.sql.exec("DELETE FROM users WHERE name = ?", name);
      });
      return { ok: true as const };
    });
  }

  /** Grants `permission` on a unit, replacing what the user held there. */
  grant(name: string, unit: string, permission: Permission): Promise<{ ok: true } | Failure> {
    return this.serial(async () => {
      const user = this.sql.first<{ token_hash: string }>("SELECT token_hash FROM users WHERE name = ?", name);
      if (!user) return userNotFound(name);
      const result = await this.unitOf(unit).setGrant(ADMIN, name, user.token_hash, permission);
      if ("error" in result) return result;
      this.sql.exec(
        "INSERT INTO user_grants (user_name, unit, permission) VALUES (?, ?, ?) ON CONFLICT (user_name, unit) DO UPDATE SET permission = excluded.permission",
        name,
        unit,
        permission,
      );
      return { ok: true as const };
    });
  }

  /** Revokes the user's grant on a unit (nothing to revoke is fine, an unknown user or unit is not). */
  revoke(name: string, unit: string): Promise<{ ok: true } | Failure> {
    return this.serial(async () => {
      if (!this.exists(name)) return userNotFound(name);
      const { exists } = await this.unitOf(unit).removeGrant(name);
      this.sql.exec("DELETE FROM user_grants WHERE user_name = ? AND unit = ?", name, unit);
      if (!exists) return failure("STORAGE_UNIT_DOESNT_EXIST", `no storage unit '${unit}'; GET /admin/listStorageUnits lists them`);
      return { ok: true as const };
    });
  }

  /** The unit was deleted (its own copy went with it): forget the grants on it. */
  dropUnit(unit: string): Promise<void> {
    return this.serial(async () => {
      this.sql.exec("DELETE FROM user_grants WHERE unit = ?", unit);
    });
  }

  list(): UserListing[] {
    const users = this.sql.all<{ name: string }>("SELECT name FROM users ORDER BY name");
    const grants = this.sql.all<{ user_name: string; unit: string; permission: Permission }>(
      "SELECT user_name, unit, permission FROM user_grants ORDER BY user_name, unit",
    );
    const byUser = new Map(users.map((user) => [user.name, {} as Record<string, Permission>]));
    for (const grant of grants) {
      const entry = byUser.get(grant.user_name);
      if (entry) entry[grant.unit] = grant.permission;
    }
    return [...byUser].map(([name, userGrants]) => ({ name, grants: userGrants }));
  }

  /** The user holding this token hash with its grants, or null: what `GET /security/whoami` tells a user. */
  ofToken(tokenHash: string): UserListing | null {
    const name = this.userOfToken(tokenHash);
    if (name === null) return null;
    const grants = this.sql.all<{ unit: string; permission: Permission }>(
      "SELECT unit, permission FROM user_grants WHERE user_name = ? ORDER BY unit",
      name,
    );
    return { name, grants: Object.fromEntries(grants.map((grant) => [grant.unit, grant.permission])) };
  }

  /** The name of the user holding this token hash, if any. */
  userOfToken(tokenHash: string): string | null {
    return this.sql.first<{ name: string }>("SELECT name FROM users WHERE token_hash = ?", tokenHash)?.name ?? null;
  }

  private exists(name: string): boolean {
    return this.sql.first("SELECT 1 AS found FROM users WHERE name = ?", name) !== undefined;
  }

  private async forEachGrant(name: string, visit: (unit: string, permission: Permission) => Promise<void>): Promise<void> {
    const grants = this.sql.all<{ unit: string; permission: Permission }>(
      "SELECT unit, permission FROM user_grants WHERE user_name = ? ORDER BY unit",
      name,
    );
    await forEachConcurrently(grants, UNITS_AT_ONCE, (grant) => visit(grant.unit, grant.permission));
  }

  /** Runs changes one after another: a Durable Object interleaves calls at every outgoing RPC. */
  private serial<T>(change: () => Promise<T>): Promise<T> {
    const run = this.tail.then(change, change);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

function userNotFound(name: string): Failure {
  return failure("USER_NOT_FOUND", `no user '${name}'; create it with PUT /security/user/${name}`);
}
