/**
 * A {@link Platform} whose "files" are in-memory SQLite databases that outlive their
 * handles: closing a handle (an object dropped by a crash) leaves the data, the next open
 * of the same path finds it, as a file would. The host decides whether a file exists
 * by looking on disk, so opening one leaves an empty marker file at its path, and a
 * removed marker (`deleteAll`) means the next open starts empty.
 */
import { existsSync, writeFileSync } from "node:fs";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { openDatabase as openNodeDatabase } from "../../src/runtime/adapters/node-sqlite";
import type { Platform, SqliteDatabase, SqliteValue } from "../../src/runtime/platform";

export class MemoryDisk {
  private readonly files = new Map<string, { db: DatabaseSync; statements: Map<string, StatementSync> }>();

  readonly platform: Platform = {
    runtime: "node",
    openDatabase: (path) => (path === ":memory:" ? openNodeDatabase(path) : this.open(path)),
    serve: () => Promise.reject(new Error("the simulation serves no HTTP")),
  };

  /** The database at `path` as it stands, for the checks; undefined when there is no file. */
  database(path: string): DatabaseSync | undefined {
    return existsSync(path) ? this.files.get(path)?.db : undefined;
  }

  /** Frees every database. */
  close(): void {
    for (const { db } of this.files.values()) db.close();
    this.files.clear();
  }

  private open(path: string): SqliteDatabase {
    let file = this.files.get(path);
    if (!file || !existsSync(path)) {
      file?.db.close();
      file = { db: new DatabaseSync(":memory:"), statements: new Map() };
      this.files.set(path, file);
      writeFileSync(path, "");
    }
    const { db, statements } = file;
    let open = true;
    const check = () => {
      if (!open) throw new Error("database is not open");
    };
    return {
      query(sql, params) {
        check();
        let statement = statements.get(sql);
        if (!statement) {
          statement = db.prepare(sql);
          statements.set(sql, statement);
        }
        return statement.all(...(params as never[])) as Array<Record<string, SqliteValue>>;
      },
      exec(sql) {
        check();
        db.exec(sql);
      },
      close() {
        open = false;
      },
    };
  }
}
