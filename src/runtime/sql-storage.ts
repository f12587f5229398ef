/**
 * `ctx.storage.sql` and `ctx.storage.transactionSync` of a Durable Object, over one SQLite
 * file of the runtime. Statements run when `exec` is called (as on Workers), so
 * `changes()` right after a write sees that write. Blobs travel as `ArrayBuffer` both ways,
 * as on Workers. `reopen` swaps the file under the same object, for `deleteAll()`.
 *
 * A file that does not exist yet is created by the first write, not by opening: until
 * then an empty in-memory database that refuses writes (`PRAGMA query_only`) answers the
 * reads, as an empty file would. An object that is only read (a unit that was never
 * created, asked by a real user or a cron visit) leaves nothing on disk.
 */
import type { SqliteDatabase, SqliteValue } from "./platform";

type Row = Record<string, SqliteValue | ArrayBuffer>;

/** The cursor `sql.exec` returns: the rows of a statement that has already run. */
export class SqlCursor<T extends Row> implements IterableIterator<T> {
  private index = 0;
  constructor(private readonly rows: T[]) {}

  /** The rows not yet read. */
  toArray(): T[] {
    const rest = this.index === 0 ? this.rows : this.rows.slice(this.index);
    this.index = this.rows.length;
    return rest;
  }

  /** The only row; throws, as Workers does, when there is none or more than one. */
  one(): T {
    const rest = this.toArray();
    if (rest.length !== 1)
      throw new Error(`Expected exactly one result from SQL query, but got ${rest.length === 0 ? "no results" : "more than one"}.`);
    return rest[0]!;
  }

  next(): IteratorResult<T> {
    return this.index < this.rows.length ? { value: this.rows[this.index++]!, done: false } : { value: undefined, done: true };
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this;
  }
}

/** Where a file may not exist yet: how to tell, and an empty in-memory database to read meanwhile. */
export interface LazyFile {
  exists(): boolean;
  openEmpty(): SqliteDatabase;
}

export class SqlStorage {
  private db: SqliteDatabase;
  /** `db` is the empty stand-in: the file has not been written yet */
  private standIn = false;
  private depth = 0;
  private closed = false;

  /** `open` opens the file, creating it; with `lazy`, only once something is written. */
  constructor(
    private readonly open: () => SqliteDatabase,
    private readonly lazy?: LazyFile,
  ) {
    this.db = this.openCurrent();
  }

  /** Runs one statement (or several without bindings) now; `?` placeholders take `bindings` in order. */
  exec<T extends Row = Row>(query: string, ...bindings: unknown[]): SqlCursor<T> {
    if (bindings.length === 0 && holdsSeveralStatements(query)) {
      this.writable((db) => db.exec(query));
      return new SqlCursor<T>([]);
    }
    const rows = this.writable((db) => db.query(query, bindings.map(toSqlite)));
    return new SqlCursor(rows.map(fromSqlite) as T[]);
  }

  /**
   * The bytes the database stores, as Workers' `sql.databaseSize` counts them: its pages
   * less those on the freelist (freed by deletes, reused by later writes). Inside a
   * transaction its writes count.
   */
  get databaseSize(): number {
    const [row] = this.db.query(
      "SELECT (SELECT page_count FROM pragma_page_count) - (SELECT freelist_count FROM pragma_freelist_count) AS pages, (SELECT page_size FROM pragma_page_size) AS size",
      [],
    );
    return Number(row!.pages) * Number(row!.size);
  }

  /**
   * Runs `fn` as one transaction: its writes all land or, when it throws, none do. Nested
   * calls become savepoints, so an inner failure caught by the outer callback undoes only
   * the inner writes.
   */
  transactionSync<T>(fn: () => T): T {
    const savepoint = `restage_tx_${this.depth}`;
    this.db.exec(`SAVEPOINT ${savepoint}`);
    this.depth++;
    try {
      const result = fn();
      if (result instanceof Promise) throw new TypeError("transactionSync() takes a synchronous callback; its writes were rolled back");
      this.depth--;
      this.db.exec(`RELEASE ${savepoint}`);
      return result;
    } catch (error) {
      this.depth--;
      this.db.exec(`ROLLBACK TO ${savepoint}`);
      this.db.exec(`RELEASE ${savepoint}`);
      throw error;
    }
  }

  /** Closes the file, lets `between` act on it (remove it), and opens it again. */
  reopen(between: () => void): void {
    if (this.depth > 0) throw new Error("deleteAll() cannot run inside transactionSync()");
    this.db.close();
    // until the file is open again (should opening it fail), statements fail and close() has nothing to close
    this.db = NOT_OPEN;
    between();
    this.db = this.openCurrent();
  }

  /** Closes the file; further statements fail. Closing twice is harmless. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
    this.db = NOT_OPEN;
  }

  private openCurrent(): SqliteDatabase {
    this.standIn = this.lazy !== undefined && !this.lazy.exists();
    if (!this.standIn) return this.open();
    const empty = this.lazy!.openEmpty();
    empty.exec("PRAGMA query_only = ON");
    return empty;
  }

  /**
   * Runs a statement; one the stand-in refuses as a write runs again on the file, created
   * now. The stand-in held no writes, so its open savepoints are simply begun again there.
   */
  private writable<T>(statement: (db: SqliteDatabase) => T): T {
    try {
      return statement(this.db);
    } catch (error) {
      if (!this.standIn || !isWriteRefusal(error)) throw error;
    }
    // the file first: should it fail to open (no file handle left), the stand-in stays, open, and the object with it
    const file = this.open();
    this.db.close();
    this.db = file;
    this.standIn = false;
    for (let level = 0; level < this.depth; level++) this.db.exec(`SAVEPOINT restage_tx_${level}`);
    return statement(this.db);
  }
}

/** Where a closed database was: a statement fails saying so, a close does nothing. */
const NOT_OPEN: SqliteDatabase = {
  query() {
    throw new Error("the object's database is not open");
  },
  exec() {
    throw new Error("the object's database is not open");
  },
  close() {},
};

/** SQLITE_READONLY, as node:sqlite (Node, Deno) and bun:sqlite report it. */
function isWriteRefusal(error: unknown): boolean {
  return error instanceof Error && /attempt to write a readonly database/.test(error.message);
}

function toSqlite(value: unknown): unknown {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (typeof value === "boolean") return value ? 1 : 0;
  return value;
}

/** A row as Workers gives it: blobs as `ArrayBuffer`. A row without a blob (nearly all) is taken as it is, copying nothing. */
function fromSqlite(row: Record<string, SqliteValue>): Row {
  for (const column in row) if (row[column] instanceof Uint8Array) return withBuffers(row);
  return row as Row;
}

function withBuffers(row: Record<string, SqliteValue>): Row {
  const out: Row = {};
  for (const [column, value] of Object.entries(row)) {
    out[column] = value instanceof Uint8Array ? value.slice().buffer : value;
  }
  return out;
}

/**
 * Whether text has a statement after its first `;` (outside quotes and comments). The
 * runtimes' `prepare` silently drops such a tail, while Workers runs it, so those go
 * through `exec` instead.
 */
export function holdsSeveralStatements(sql: string): boolean {
  let quote: string | undefined;
  for (let i = 0; i < sql.length; i++) {
    const char = sql[i]!;
    if (quote) {
      if (char === quote) quote = undefined;
    } else if (char === "'" || char === '"' || char === "`") quote = char;
    else if (char === "[") quote = "]";
    else if (char === "-" && sql[i + 1] === "-") i = skipTo(sql, "\n", i);
    else if (char === "/" && sql[i + 1] === "*") i = skipTo(sql, "*/", i) + 1;
    else if (char === ";") return sql.slice(i + 1).trim().length > 0 && !/^(\s|--[^\n]*\n?|\/\*[\s\S]*?\*\/|;)*$/.test(sql.slice(i + 1));
  }
  return false;
}

function skipTo(sql: string, end: string, from: number): number {
  const at = sql.indexOf(end, from + 2);
  return at === -1 ? sql.length : at;
}
