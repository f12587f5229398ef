/** A `Sql` over an in-memory Node SQLite: what the unit's stores need, without a Durable Object. */
import { openDatabase } from "../../src/runtime/adapters/node-sqlite";
import { SqlStorage } from "../../src/runtime/sql-storage";
import { Sql } from "../../src/unit/sql";

export function memorySql(): { sql: Sql; storage: SqlStorage } {
  const storage = new SqlStorage(() => openDatabase(":memory:"));
  return { sql: new Sql({ sql: storage, transactionSync: (fn) => storage.transactionSync(fn) }), storage };
}
