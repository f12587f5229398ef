/** Node 22.13+: `node:sqlite` and `@hono/node-server`. */
import { serve as serveNode } from "@hono/node-server";
import { log } from "../../log";
import type { Platform } from "../platform";
import { openDatabase } from "./node-sqlite";

export const runtime: Platform["runtime"] = "node";
export { openDatabase };

/**
 * How long an idle keep-alive connection stays open. Node's 5 s default loses requests: when
 * the event loop comes back from a long synchronous stretch (a heavy pipeline, a large batch),
 * timers run before the sockets are read, so a connection whose client sent its next request
 * meanwhile is closed as idle and the request answered with a reset (ECONNRESET). A minute
 * is what load balancers expect of the servers behind them.
 */
const KEEP_ALIVE_MS = 65_000;

export const serve: Platform["serve"] = (handler, { hostname, port }) =>
  new Promise((resolve, reject) => {
    let listening = false;
    const server = serveNode({ fetch: handler, hostname, port, serverOptions: { keepAliveTimeout: KEEP_ALIVE_MS } }, (info) => {
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
