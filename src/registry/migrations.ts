/**
 * The registry's schema as ordered, numbered migrations, run by src/unit/migration-runner.ts
 * (recorded in `_migrations`). Append new steps at the end, numbered on; never edit one
 * that has shipped.
 *
 * Tables: `units` (name, created_at; `active` is no longer read, see step 2), `active_shards`
 * (unit, shard: the shards with work or schedules, see registry.ts), `users` (name,
 * token_hash, created_at) and `user_grants` (user, unit, permission: see users.ts).
 */
import type { Migration } from "../unit/migration-runner";

export const REGISTRY_MIGRATIONS: Migration[] = [
  {
    id: 1,
    name: "units, users, user_grants",
    // a registry laid before migrations has these tables and no record of them: IF NOT EXISTS
    // lets this step run over it, keep its rows and be recorded like on a new registry
    up: [
      "CREATE TABLE IF NOT EXISTS units (name TEXT PRIMARY KEY, created_at INTEGER NOT NULL, active INTEGER NOT NULL DEFAULT 0)",
      "CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, token_hash TEXT NOT NULL, created_at INTEGER NOT NULL)",
      "CREATE INDEX IF NOT EXISTS users_by_token ON users (token_hash)",
      "CREATE TABLE IF NOT EXISTS user_grants (user_name TEXT NOT NULL, unit TEXT NOT NULL, permission TEXT NOT NULL, PRIMARY KEY (user_name, unit))",
      "CREATE INDEX IF NOT EXISTS user_grants_by_unit ON user_grants (unit)",
    ],
  },
  {
    id: 2,
    name: "active_shards: a unit is on the cron's list while any of its shards is",
    // one flag per unit let an idle shard take off the list a unit whose other shards had work
    up: [
      "CREATE TABLE active_shards (unit TEXT NOT NULL, shard INTEGER NOT NULL, PRIMARY KEY (unit, shard)) WITHOUT ROWID",
      "INSERT INTO active_shards (unit, shard) SELECT name, 0 FROM units WHERE active = 1",
    ],
  },
];
