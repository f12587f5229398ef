/** Deno 2.2+: `node:sqlite` and `Deno.serve`. */
import type { Platform } from "../platform";
import { openDatabase } from "./node-sqlite";

export const runtime: Platform["runtime"] = "deno";
export { openDatabase };

export const serve: Platform["serve"] = (handler, { hostname, port }) =>
  new Promise((resolve) => {
    const server = Deno.serve({ hostname, port, onListen: ({ port: bound }) => resolve({ port: bound, close: () => server.shutdown() }) }, handler);
  });
