/** Bun: `bun:sqlite` and `Bun.serve`. */
import { Database } from "bun:sqlite";
import type { Platform, SqliteDatabase, SqliteValue } from "../platform";

export const runtime: Platform["runtime"] = "bun";

export function openDatabase(path: string): SqliteDatabase {
  const db = new Database(path, { create: true });
  return {
    // `query` caches the prepared statement per SQL text
    query: (sql, params) => db.query(sql).all(...params) as Array<Record<string, SqliteValue>>,
    exec: (sql) => void db.run(sql),
    close: () => db.close(),
  };
}

export const serve: Platform["serve"] = async (handler, { hostname, port }) => {
  // Bun closes a connection idle for 10 s by default: too short for a slow client's large batch
  const server = Bun.serve({ hostname, port, fetch: handler, idleTimeout: 120 });
  return { port: server.port, close: () => server.stop() };
};
