/**
 * The Hono app: the route groups, CORS, and the one place where errors become responses
 * (`{"message": CODE, "detail": ...}`, never a stack trace).
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { ApiError, isOverloaded, overloadedAnswer } from "./errors";
import { PAGE_PATHS, pageSecurityHeaders } from "./http/page-headers";
import { methodsAllowedFor, resembledRoute, type App, type AppEnv } from "./http/route";
import { log } from "./log";
import { accessRoutes } from "./routes/access";
import { adminRoutes } from "./routes/admin";
import { metaRoutes } from "./routes/meta";
import { metricsRoutes } from "./routes/metrics";
import { reprocessRoutes } from "./routes/reprocess";
import { runRoutes } from "./routes/runs";
import { securityRoutes } from "./routes/security";
import { transactionRoutes } from "./routes/transaction";
import { storageFullError } from "./unit/capacity";

/** The app with every route: its type is what the typed client (`restage/client`) reads. */
export function createApp() {
  const base: App = new OpenAPIHono<AppEnv>();

  // CORS is off unless CORS_ORIGINS lists the origins allowed
  base.use("*", async (c, next) => {
    const origins = (c.env?.CORS_ORIGINS ?? "")
      .split(",")
      .map((origin) => origin.trim())
      .filter(Boolean);
    if (origins.length === 0) return next();
    return cors({ origin: origins, allowHeaders: ["authorization", "content-type"], allowMethods: ["GET", "POST", "PUT", "DELETE"] })(c, next);
  });

  for (const path of PAGE_PATHS) base.use(path, pageSecurityHeaders);

  const app = metricsRoutes(securityRoutes(runRoutes(reprocessRoutes(accessRoutes(transactionRoutes(adminRoutes(metaRoutes(base))))))));

  app.notFound((c) => {
    const allowed = methodsAllowedFor(app, c.req.path);
    if (allowed.length > 0) {
      return c.json({ message: "METHOD_NOT_ALLOWED", detail: `${c.req.method} is not allowed here; use ${allowed.join(" or ")}` }, 405, {
        allow: allowed.join(", "),
      });
    }
    const resembled = resembledRoute(app, c.req.path);
    if (resembled) {
      const what = resembled.namesKey ? "a key holding '/'" : "a path parameter holding '/'";
      return c.json(
        {
          message: "NOT_FOUND",
          detail: `no route ${c.req.method} ${c.req.path}: it has more segments than ${resembled.route}; ${what} must be percent-encoded (encodeURIComponent: 'a/b' travels as 'a%2Fb')`,
        },
        404,
      );
    }
    return c.json({ message: "NOT_FOUND", detail: `no route ${c.req.method} ${c.req.path}; see GET /openapi.json for the API` }, 404);
  });

  app.onError((error, c) => {
    const known = error instanceof ApiError ? error : storageFullError(error);
    if (known) return c.json({ message: known.code, detail: known.detail }, known.status, known.headers);
    if (error instanceof HTTPException && error.status < 500) {
      return c.json({ message: "INVALID_REQUEST", detail: error.message || "the request could not be read" }, 400);
    }
    if (isOverloaded(error)) {
      const { detail, retryAfter } = overloadedAnswer(error);
      return c.json({ message: "OVERLOADED", detail }, 503, { "retry-after": retryAfter });
    }
    log("error", "unhandled", { method: c.req.method, path: c.req.path, error: String(error), stack: (error as Error)?.stack });
    return c.json({ message: "INTERNAL_ERROR", detail: "an unexpected error occurred; it has been logged" }, 500);
  });

  return app;
}

/** The type of the whole API, for `hc<AppType>` (src/client). */
export type AppType = ReturnType<typeof createApp>;
