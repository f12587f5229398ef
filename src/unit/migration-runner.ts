/**
 * One migration runner for every SQLite a Durable Object holds (the storage unit's and the
 * registry's): ordered, numbered migrations, each recorded in table `_migrations` when it
 * has run. Durable Objects do not support `PRAGMA user_version`, hence the table.
 *
 * Invariants: a migration runs once, in one transaction with its record, so a crash leaves
 * it either done and recorded or not begun; ids are 1, 2, 3… in list order, checked at
 * every run, so a list edited out of order fails loudly instead of skipping a step.
 * A migration is a list of statements (each run on its own, never a text split on `;`,
 * which would break on a `;` in a string or a trigger) or a function given the `Sql`.
 */
import type { Sql } from "./sql";

export interface Migration {
  id: number;
  /** what it does, kept in `_migrations` for whoever reads the database */
  name: string;
  up: readonly string[] | ((sql: Sql) => void);
}

/** The table's name; it exists once the first migration has run. */
export const MIGRATIONS_TABLE = "_migrations";

/** Whether migrations ever ran on this database. */
export function hasMigrations(sql: Sql): boolean {
  return sql.first("SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = ?", MIGRATIONS_TABLE) !== undefined;
}

/** Runs the migrations not yet recorded, in order; returns the ids it ran. Safe to call on every start. */
export function runMigrations(sql: Sql, migrations: readonly Migration[]): number[] {
  migrations.forEach((migration, index) => {
    if (migration.id !== index + 1)
      throw new Error(
        `migration '${migration.name}' has id ${migration.id} at position ${index + 1}: number migrations 1, 2, 3… in order and append new ones`,
      );
  });
  sql.exec(`CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const applied = new Set(sql.all<{ id: number }>(`SELECT id FROM ${MIGRATIONS_TABLE}`).map((row) => row.id));
  const ran: number[] = [];
  for (const migration of migrations) {
    if (applied.has(migration.id)) continue;
    sql.transaction(() => {
      if (typeof migration.up === "function") migration.up(sql);
      else for (const statement of migration.up) sql.exec(statement);
      sql.exec(`INSERT INTO ${MIGRATIONS_TABLE} (id, name, applied_at) VALUES (?, ?, ?)`, migration.id, migration.name, Date.now());
    });
    ran.push(migration.id);
  }
  return ran;
}
