/** Routes that hold no data and need no token: health, the OpenAPI document, the docs and dashboard pages. */
import { z } from "@hono/zod-openapi";
import { defineRoute, knowRoute, type App } from "../http/route";
import { DASHBOARD_CSS, DASHBOARD_SCRIPT, dashboardPage } from "./dashboard-page";
import { DOCS_SCRIPT, docsPage, SCALAR_SCRIPT } from "./docs-page";

export function metaRoutes(app: App): void {
  defineRoute(app, { methods: ["get"], path: "/health", summary: "Liveness", tag: "Other", access: "public" }, (c) => c.json({ message: "OK" }));

  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "restage",
      version: "0.1.0",
      description: "Content staging repository: store extracted content once, reprocess it through per-scope module pipelines.",
    },
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });

  defineRoute(
    app,
    { methods: ["get"], path: "/docs", summary: "An interactive reference of this API", tag: "Other", access: "public", response: z.string() },
    (c) => c.html(docsPage()),
  );
  defineRoute(
    app,
    { methods: ["get"], path: "/dashboard", summary: "Queue views of the units (asks for a token)", tag: "Other", access: "public", response: z.string() },
    (c) => c.html(dashboardPage()),
  );
  const files: Array<[path: string, body: string, type: string]> = [
    ["/dashboard/app.js", DASHBOARD_SCRIPT, "text/javascript"],
    ["/dashboard/app.css", DASHBOARD_CSS, "text/css"],
    ["/docs/scalar.js", SCALAR_SCRIPT, "text/javascript"],
    ["/docs/app.js", DOCS_SCRIPT, "text/javascript"],
  ];
  for (const [path, body, type] of files) {
    app.get(path, (c) => c.body(body, 200, { "content-type": `${type}; charset=utf-8` }));
    knowRoute(app, "get", path);
  }
  knowRoute(app, "get", "/openapi.json");
}
