/** `node:sqlite` as a {@link SqliteDatabase}: the SQLite of Node 22.13+ and of Deno 2.2+. */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { SqliteDatabase, SqliteValue } from "../platform";

/** Prepared statements kept per file; the unit runs a small fixed set of queries. */
const STATEMENT_CACHE = 256;

export function openDatabase(path: string): SqliteDatabase {
  const db = new DatabaseSync(path);
  const statements = new Map<string, StatementSync>();
  return {
    query(sql, params) {
      let statement = statements.get(sql);
      if (!statement) {
        if (statements.size >= STATEMENT_CACHE) statements.clear();
        statement = db.prepare(sql);
        statements.set(sql, statement);
      }
      return statement.all(...(params as never[])) as Array<Record<string, SqliteValue>>;
    },
    exec: (sql) => db.exec(sql),
    close() {
      statements.clear();
      db.close();
    },
  };
}
