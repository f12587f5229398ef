/** Node 22.13+: `node:sqlite` and `@hono/node-server`. */
import { serve as serveNode } from "@hono/node-server";
import { log } from "../../log";
import type { Platform } from "../platform";
import { openDatabase } from "./node-sqlite";

export const runtime: Platform["runtime"] = "node";
export { openDatabase };

export const serve: Platform["serve"] = (handler, { hostname, port }) =>
  new Promise((resolve, reject) => {
    let listening = false;
    const server = serveNode({ fetch: handler, hostname, port }, (info) => {
      listening = true;
      resolve({
        port: info.port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
    // once listening, an error is a connection refused for want of file handles (EMFILE on accept):
    // the server goes on, where an error without a listener would end the process
    server.on("error", (error) => (listening ? log("warn", "server-error", { error: String(error) }) : reject(error)));
  });
