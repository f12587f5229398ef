/**
 * What a runtime adapter gives the self-hosted host (src/runtime/adapters/): a SQLite
 * database and an HTTP server. Everything else the host needs (files, timers, hashing,
 * `process`) is common to Node, Bun and Deno, so each adapter stays a few lines over that
 * runtime's own primitives, the way Hono's adapters are.
 */

/** A value SQLite hands back: blobs come as bytes, whichever runtime reads them. */
export type SqliteValue = string | number | bigint | null | Uint8Array;

/** One open SQLite file, used from a single thread; every call is synchronous. */
export interface SqliteDatabase {
  /** Runs one statement with positional (`?`) bindings and returns its rows as objects (none for a write). */
  query(sql: string, params: readonly unknown[]): Array<Record<string, SqliteValue>>;
  /** Runs one or more statements that take no bindings. */
  exec(sql: string): void;
  close(): void;
}

export interface HttpServer {
  /** the port actually bound (PORT=0 picks a free one) */
  readonly port: number;
  /** Stops accepting connections. */
  close(): Promise<void>;
}

export interface ServeOptions {
  hostname: string;
  port: number;
}

/** The names every adapter exports. */
export interface Platform {
  readonly runtime: "node" | "bun" | "deno";
  /** Opens (creating if needed) the SQLite file at `path`. */
  openDatabase(path: string): SqliteDatabase;
  /** Serves `handler` over HTTP; resolves once listening. */
  serve(handler: (request: Request) => Promise<Response>, options: ServeOptions): Promise<HttpServer>;
}
