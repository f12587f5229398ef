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
  sql: {
    exec<T extends Record<string, SqlValue>>(query: string, ...bindings: unknown[]): SqlCursorLike<T>;
    /** bytes the database stores now, pages on the freelist left out; inside a transaction, its writes count */
    readonly databaseSize: number;
  };
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

/**
 * A statement's text and its bindings in order, built with {@link q} so each value stays
 * beside its placeholder, and fragments (a transition's `SET` list, a filter) compose
 * without counting `?`s. Durable Objects bind positional `?` only.
 */
export class Query {
  constructor(
    readonly text: string,
    readonly args: readonly unknown[],
  ) {}
}

/**
 * Tagged template for SQL: each interpolated value becomes a bound `?`, an interpolated
 * {@link Query} is spliced in with its own bindings.
 *
 * @example
 * sql.run(q`UPDATE queue SET next_run_at = ${now} WHERE ${byScope(scope)}`)
 */
export function q(strings: TemplateStringsArray, ...values: unknown[]): Query {
  let text = strings[0]!;
  const args: unknown[] = [];
  values.forEach((value, i) => {
    if (value instanceof Query) {
      text += value.text;
      args.push(...value.args);
    } else {
      text += "?";
      args.push(value);
    }
    text += strings[i + 1]!;
  });
  return new Query(text, args);
}

/** SQL text taken as is (a column, a constant): never a value that came from outside. */
export const raw = (text: string): Query => new Query(text, []);

/** The fragments joined by `separator`, their bindings in order. */
export function join(parts: readonly Query[], separator = ", "): Query {
  return new Query(
    parts.map((part) => part.text).join(separator),
    parts.flatMap((part) => part.args),
  );
}

/** The part of {@link UnitStorage} that SQL needs: what the tests give over plain SQLite. */
export type SqlHost = Pick<UnitStorage, "sql" | "transactionSync">;

/** A statement that only reads. */
const READ = /^\s*SELECT\s/i;

/**
 * Small typed helpers over `sql.exec`; all statements are synchronous, as on Durable Objects.
 * Each takes either a text and its bindings or a {@link Query}.
 */
export class Sql {
  private statementsThatWrite = 0;

  constructor(private readonly storage: SqlHost) {}

  all<T extends Record<string, SqlValue>>(query: string | Query, ...bindings: unknown[]): T[] {
    const text = query instanceof Query ? query.text : query;
    if (!READ.test(text)) this.statementsThatWrite++;
    if (query instanceof Query) return this.storage.sql.exec<T>(text, ...query.args).toArray();
    return this.storage.sql.exec<T>(text, ...bindings).toArray();
  }

  /**
   * The statements run so far that may have written (every one but a `SELECT`): the same
   * number before and after an await means this object changed nothing meanwhile.
   */
  get writes(): number {
    return this.statementsThatWrite;
  }

  first<T extends Record<string, SqlValue>>(query: string | Query, ...bindings: unknown[]): T | undefined {
    return this.all<T>(query, ...bindings)[0];
  }

  /** Runs a write and returns how many rows it changed (SQLite's `changes()`). */
  run(query: string | Query, ...bindings: unknown[]): number {
    this.all(query, ...bindings);
    return Number(this.storage.sql.exec<{ n: number }>("SELECT changes() AS n").one().n);
  }

  exec(query: string | Query, ...bindings: unknown[]): void {
    this.all(query, ...bindings);
  }

  /** The database's stored bytes now (see {@link UnitStorage}). */
  get databaseSize(): number {
    return this.storage.sql.databaseSize;
  }

  transaction<T>(fn: () => T): T {
    return this.storage.transactionSync(fn);
  }
}
