/**
 * The Registry Durable Object (one, named "registry"): the list of storage units for
 * `listStorageUnits`, and the units the cron trigger must visit (those with schedules or
 * unfinished work), so a tick stays cheap with thousands of idle units. It is never on the
 * path of a data request.
 *
 * Tables: `units` (name, created_at, active); the users and their grants (users.ts); the
 * schema of both in migrations.ts.
 */
import { DurableObject } from "cloudflare:workers";
import { shardedUnit } from "../shards/protocol";
import type { Env } from "../env";
import type { Failure } from "../errors";
import type { Permission } from "../unit/grants";
import { runMigrations } from "../unit/migration-runner";
import { Sql, type UnitState } from "../unit/sql";
import { REGISTRY_MIGRATIONS } from "./migrations";
import { UserDirectory, type UserListing } from "./users";

export class Registry extends DurableObject<Env> {
  private readonly sql: Sql;
  private readonly users: UserDirectory;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = new Sql((ctx as unknown as UnitState).storage);
    runMigrations(this.sql, REGISTRY_MIGRATIONS);
    this.users = new UserDirectory(this.sql, (name) => shardedUnit(env, name));
  }

  /** Lists a unit; listing it again (a repair) updates its creation time and keeps its active shards, so a busy unit stays on the cron's list. */
  async addUnit(name: string, createdAt: number): Promise<void> {
    this.sql.exec(
      "INSERT INTO units (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET created_at = excluded.created_at",
      name,
      createdAt,
    );
  }

  /** The unit is gone, and with it the grants on it. */
  async removeUnit(name: string): Promise<void> {
    this.sql.exec("DELETE FROM units WHERE name = ?", name);
    this.sql.exec("DELETE FROM active_shards WHERE unit = ?", name);
    await this.users.dropUnit(name);
  }

  async listUnits(): Promise<Array<{ name: string; createdAt: string }>> {
    return this.sql
      .all<{ name: string; created_at: number }>("SELECT name, created_at FROM units ORDER BY name")
      .map((row) => ({ name: row.name, createdAt: new Date(row.created_at).toISOString() }));
  }

  /** A shard of a listed unit has work or schedules (or no longer has): the cron visits a unit while any shard does. */
  async setActive(name: string, active: boolean, shard = 0): Promise<void> {
    if (!active) this.sql.exec("DELETE FROM active_shards WHERE unit = ? AND shard = ?", name, shard);
    else this.sql.exec("INSERT OR IGNORE INTO active_shards (unit, shard) SELECT name, ? FROM units WHERE name = ?", shard, name);
  }

  async activeUnits(): Promise<string[]> {
    return this.sql.all<{ unit: string }>("SELECT DISTINCT unit FROM active_shards ORDER BY unit").map((row) => row.unit);
  }

  // ── users (Security API; see users.ts) ──────────────────────────────────

  async putUser(name: string, tokenHash: string): Promise<{ created: boolean }> {
    return this.users.putUser(name, tokenHash);
  }

  async deleteUser(name: string): Promise<{ ok: true } | Failure> {
    return this.users.deleteUser(name);
  }

  async grant(user: string, unit: string, permission: Permission): Promise<{ ok: true } | Failure> {
    return this.users.grant(user, unit, permission);
  }

  async revoke(user: string, unit: string): Promise<{ ok: true } | Failure> {
    return this.users.revoke(user, unit);
  }

  async listUsers(): Promise<UserListing[]> {
    return this.users.list();
  }

  /** The user holding this token hash and its grants (null: nobody), for `GET /security/whoami`. */
  async whoami(tokenHash: string): Promise<UserListing | null> {
    return this.users.ofToken(tokenHash);
  }

  /** Which user holds this token hash (null: nobody); asked only for refused requests. */
  async userOfToken(tokenHash: string): Promise<string | null> {
    return this.users.userOfToken(tokenHash);
  }
}
