/**
 * The narrow host interface a storage unit runs on: the parts of a Durable Object's state
 * it uses. Workers gives it `ctx`; the self-hosted runtimes (src/runtime/) give an object
 * of the same shape over their own SQLite. Nothing else of the platform is used.
 */
export type SqlValue = string | number | null | ArrayBuffer;

export interface SqlCursorLike<T> {
  toArray(): T[];
  one(): T;
}

export interface UnitStorage {
  sql: { exec<T extends Record<string, SqlValue>>(query: string, ...bindings: unknown[]): SqlCursorLike<T> };
  transactionSync<T>(fn: () => T): T;
  getAlarm(): Promise<number | null>;
  setAlarm(scheduledTime: number): Promise<void>;
  deleteAlarm(): Promise<void>;
  deleteAll(): Promise<void>;
}

export interface UnitState {
  storage: UnitStorage;
  blockConcurrencyWhile<T>(fn: () => Promise<T>): Promise<T>;
}

/** Small typed helpers over `sql.exec`; all statements are synchronous, as on Durable Objects. */
export class Sql {
  constructor(private readonly storage: UnitStorage) {}

  all<T extends Record<string, SqlValue>>(query: string, ...bindings: unknown[]): T[] {
    return this.storage.sql.exec<T>(query, ...bindings).toArray();
  }

  first<T extends Record<string, SqlValue>>(query: string, ...bindings: unknown[]): T | undefined {
    return this.all<T>(query, ...bindings)[0];
  }

  /** Runs a write and returns how many rows it changed (SQLite's `changes()`). */
  run(query: string, ...bindings: unknown[]): number {
    this.storage.sql.exec(query, ...bindings).toArray();
    return Number(this.storage.sql.exec<{ n: number }>("SELECT changes() AS n").one().n);
  }

  exec(query: string, ...bindings: unknown[]): void {
    this.storage.sql.exec(query, ...bindings).toArray();
  }

  transaction<T>(fn: () => T): T {
    return this.storage.transactionSync(fn);
  }
}
