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
 *
 * A new database may be laid from a baseline instead: the schema and rows that migrations
 * 1…`through` leave, as statements (generated from the list by scripts/schema-baseline.mjs,
 * checked against it by test/sqlite/migrations.test.ts), run in one transaction that records
 * those steps; the steps after `through` then run as usual. It lays in one pass what the
 * steps lay one by one: each ALTER TABLE makes SQLite read the whole schema again.
 */
import type { Sql, SqlValue } from "./sql";

export interface Migration {
  id: number;
  /** what it does, kept in `_migrations` for whoever reads the database */
  name: string;
  up: readonly string[] | ((sql: Sql) => void);
}

/** What migrations 1…`through` leave in a new database, as statements that lay it again ({@link schemaStatements}). */
export interface Baseline {
  through: number;
  statements: readonly string[];
}

/** The table's name; it exists once the first migration has run. */
export const MIGRATIONS_TABLE = "_migrations";

/** Whether migrations ever ran on this database. */
export function hasMigrations(sql: Sql): boolean {
  return sql.first("SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = ?", MIGRATIONS_TABLE) !== undefined;
}

/**
 * Runs the migrations not yet recorded, in order; returns the ids it ran. Safe to call on
 * every start. A database with none recorded is laid from `baseline` first, when one is given.
 */
export function runMigrations(sql: Sql, migrations: readonly Migration[], baseline?: Baseline): number[] {
  migrations.forEach((migration, index) => {
    if (migration.id !== index + 1)
      throw new Error(
        `migration '${migration.name}' has id ${migration.id} at position ${index + 1}: number migrations 1, 2, 3… in order and append new ones`,
      );
  });
  sql.exec(`CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const applied = new Set(sql.all<{ id: number }>(`SELECT id FROM ${MIGRATIONS_TABLE}`).map((row) => row.id));
  const ran: number[] = [];
  if (applied.size === 0 && baseline) {
    const laid = migrations.slice(0, baseline.through);
    sql.transaction(() => {
      for (const statement of baseline.statements) sql.exec(statement);
      for (const migration of laid) record(sql, migration);
    });
    for (const migration of laid) {
      applied.add(migration.id);
      ran.push(migration.id);
    }
  }
  for (const migration of migrations) {
    if (applied.has(migration.id)) continue;
    sql.transaction(() => {
      if (typeof migration.up === "function") migration.up(sql);
      else for (const statement of migration.up) sql.exec(statement);
      record(sql, migration);
    });
    ran.push(migration.id);
  }
  return ran;
}

function record(sql: Sql, migration: Migration): void {
  sql.exec(`INSERT INTO ${MIGRATIONS_TABLE} (id, name, applied_at) VALUES (?, ?, ?)`, migration.id, migration.name, Date.now());
}

/**
 * Statements that lay this database's schema and rows again, `_migrations` and SQLite's own
 * tables left out: each table as `sqlite_master` keeps it (an ALTER TABLE's column written
 * into its CREATE), in the order they were made, then each table's rows, then the indexes
 * and triggers (after the rows, so no trigger fires on them).
 */
export function schemaStatements(sql: Sql): string[] {
  const objects = sql.all<{ type: string; name: string; sql: string }>(
    "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> ? ORDER BY rowid",
    MIGRATIONS_TABLE,
  );
  const rows = objects
    .filter((object) => object.type === "table")
    .flatMap(({ name }) =>
      sql.all<Record<string, SqlValue>>(`SELECT * FROM ${name}`).map((row) => {
        const columns = Object.entries(row);
        return `INSERT INTO ${name} (${columns.map(([column]) => column).join(", ")}) VALUES (${columns.map(([, value]) => literal(value)).join(", ")})`;
      }),
    );
  const tables = objects.filter((object) => object.type === "table").map((object) => object.sql);
  const rest = objects.filter((object) => object.type !== "table").map((object) => object.sql);
  return [...tables, ...rows, ...rest];
}

function literal(value: SqlValue): string {
  if (value === null) return "NULL";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return `'${value.replaceAll("'", "''")}'`;
  throw new Error("a baseline row holds a blob: lay it with a migration step instead");
}
