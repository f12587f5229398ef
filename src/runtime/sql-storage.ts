/**
 * `ctx.storage.sql` and `ctx.storage.transactionSync` of a Durable Object, over one SQLite
 * file of the runtime. Statements run when `exec` is called (as on Workers), so
 * `changes()` right after a write sees that write. Blobs travel as `ArrayBuffer` both ways,
 * as on Workers. `reopen` swaps the file under the same object, for `deleteAll()`.
 */
import type { SqliteDatabase, SqliteValue } from "./platform";

type Row = Record<string, SqliteValue | ArrayBuffer>;

/** The cursor `sql.exec` returns: the rows of a statement that has already run. */
export class SqlCursor<T extends Row> implements IterableIterator<T> {
  private index = 0;
  constructor(private readonly rows: T[]) {}

  /** The rows not yet read. */
  toArray(): T[] {
    const rest = this.rows.slice(this.index);
    this.index = this.rows.length;
    return rest;
  }

  /** The only row; throws, as Workers does, when there is none or more than one. */
  one(): T {
    const rest = this.toArray();
    if (rest.length !== 1) throw new Error(`Expected exactly one result from SQL query, but got ${rest.length === 0 ? "no results" : "more than one"}.`);
    return rest[0]!;
  }

  next(): IteratorResult<T> {
    return this.index < this.rows.length ? { value: this.rows[this.index++]!, done: false } : { value: undefined, done: true };
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this;
  }
}

export class SqlStorage {
  private db: SqliteDatabase;
  private depth = 0;
  private closed = false;

  constructor(private readonly open: () => SqliteDatabase) {
    this.db = open();
  }

  /** Runs one statement (or several without bindings) now; `?` placeholders take `bindings` in order. */
  exec<T extends Row = Row>(query: string, ...bindings: unknown[]): SqlCursor<T> {
    if (bindings.length === 0 && holdsSeveralStatements(query)) {
      this.db.exec(query);
      return new SqlCursor<T>([]);
    }
    const rows = this.db.query(query, bindings.map(toSqlite));
    return new SqlCursor(rows.map(fromSqlite) as T[]);
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
    between();
    this.db = this.open();
  }

  /** Closes the file; further statements fail. Closing twice is harmless. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

function toSqlite(value: unknown): unknown {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (typeof value === "boolean") return value ? 1 : 0;
  return value;
}

function fromSqlite(row: Record<string, SqliteValue>): Row {
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
