/** Routes that hold no data and need no token: health, the OpenAPI document, the docs and dashboard pages. */
import type { Schema } from "hono";
import { apiDescription } from "../http/api-description";
import { Ok } from "../http/answers";
import { knowRoute, routes, type App } from "../http/route";
import { FAVICON } from "./dashboard/assets";
import { dashboardPage } from "./dashboard/page";
import { DOCS_SCRIPT, docsPage } from "./docs-page";
import { ok } from "./units";

const TAGS = [
  { name: "Admin", description: "Storage units, their pipelines, flags, settings and schedules (admin token)" },
  { name: "Transaction", description: "Writes: add, delete, NDJSON batches" },
  { name: "Access", description: "Reads: one record, several, or pages in key order" },
  { name: "Reprocess", description: "Queue content for its pipeline again; the queue's state and failed items" },
  { name: "Security", description: "Users, their tokens and grants (admin token)" },
  { name: "Other", description: "Health, this document and the pages; no token" },
];

export function metaRoutes<S extends Schema>(app: App<S>) {
  // the server a reader of the document is talking to: try-it calls and generated clients go there
  app.doc31("/openapi.json", (c) => ({
    openapi: "3.1.0",
    info: {
      title: "restage",
      version: "0.1.0",
      description: apiDescription(new URL(c.req.url).origin),
    },
    servers: [{ url: new URL(c.req.url).origin, description: "this server" }],
    tags: TAGS,
  }));
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "the admin token (ADMIN_TOKEN) or a user's token (PUT /security/user/{user})",
  });
  knowRoute(app, "get", "/openapi.json");

  const files: Array<[path: string, body: string, type: string]> = [
    ["/favicon.ico", FAVICON, "image/svg+xml"],
    ["/docs/app.js", DOCS_SCRIPT, "text/javascript"],
  ];
  for (const [path, body, type] of files) {
    app.get(path, (c) => c.body(body, 200, { "content-type": `${type}; charset=utf-8` }));
    knowRoute(app, "get", path);
  }
  // the built files (dist/assets: scripts/build-assets.mjs), from Workers Static Assets or the self-hosted servers' folder
  for (const path of ["/docs/scalar.js", "/dashboard/app.js", "/dashboard/app.css"]) {
    app.get(path, async (c) => {
      const file = await c.env.ASSETS.fetch(c.req.raw);
      // a copy: a fetched answer's headers are immutable, and the pages' middleware adds its own
      return new Response(file.body, file);
    });
    knowRoute(app, "get", path);
  }

  return routes(app)
    .add({ method: "get", path: "/health", operationId: "health", summary: "Liveness", tag: "Other", access: "public", answer: Ok }, (c) => ok(c))
    .add(
      {
        method: "get",
        path: "/docs",
        operationId: "docs",
        summary: "An interactive reference of this API",
        tag: "Other",
        access: "public",
        answer: "html",
      },
      (c) => c.html(docsPage()),
    )
    .add(
      {
        method: "get",
        path: "/dashboard",
        operationId: "dashboard",
        summary: "The console: units, runs, rates and failed items (asks for a token)",
        tag: "Other",
        access: "public",
        answer: "html",
      },
      (c) => c.html(dashboardPage()),
    ).app;
}
