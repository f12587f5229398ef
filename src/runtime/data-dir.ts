/**
 * The data directory of a self-hosted server: `host.sqlite` (the alarms of all objects)
 * and one folder per namespace with one SQLite file per object. The server holds an
 * exclusive lock on `host.sqlite` while it runs, so a second server on the same directory
 * refuses to start instead of running a second instance of every unit; the operating
 * system drops the lock when the process dies, even by SIGKILL.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Platform, SqliteDatabase } from "./platform";

/** Creates the directory if needed and opens its host database, locked to this process. */
export function openDataDir(platform: Platform, dir: string): SqliteDatabase {
  mkdirSync(dir, { recursive: true });
  const db = platform.openDatabase(join(dir, "host.sqlite"));
  try {
    // with EXCLUSIVE locking, the first write takes the file lock and keeps it until close
    db.exec(
      "PRAGMA busy_timeout = 0; PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; BEGIN EXCLUSIVE; COMMIT;",
    );
  } catch (error) {
    db.close();
    throw new Error(
      `the data directory ${dir} is in use by another restage server (${String(error)}); stop that server or set RESTAGE_DATA_DIR to another directory`,
    );
  }
  return db;
}
