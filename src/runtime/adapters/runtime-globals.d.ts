/**
 * The few parts of Bun's and Deno's own APIs the adapters use, declared here so that the
 * project typechecks without either runtime's full type package.
 */
declare module "bun:sqlite" {
  export class Database {
    constructor(path: string, options?: { create?: boolean; readonly?: boolean });
    query(sql: string): { all(...params: readonly unknown[]): unknown[] };
    run(sql: string): unknown;
    close(): void;
  }
}

declare const Bun: {
  serve(options: { hostname: string; port: number; idleTimeout?: number; fetch(request: Request): Response | Promise<Response> }): {
    readonly port: number;
    stop(closeActiveConnections?: boolean): Promise<void>;
  };
};

declare const Deno: {
  serve(
    options: { hostname: string; port: number; onListen?(address: { hostname: string; port: number }): void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void>; readonly finished: Promise<void> };
};
