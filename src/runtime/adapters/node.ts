/** Node 22.13+: `node:sqlite` and `@hono/node-server`. */
import { serve as serveNode } from "@hono/node-server";
import type { Platform } from "../platform";
import { openDatabase } from "./node-sqlite";

export const runtime: Platform["runtime"] = "node";
export { openDatabase };

export const serve: Platform["serve"] = (handler, { hostname, port }) =>
  new Promise((resolve, reject) => {
    const server = serveNode({ fetch: handler, hostname, port }, (info) =>
      resolve({
        port: info.port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      }),
    );
    server.once("error", reject);
  });
