/**
 * `defineRoute`: one declaration per API route. The same zod schemas validate the request
 * (400 naming each bad field) and describe it in the OpenAPI document; the route's access
 * rule is checked before its input is read. Bodies are read here, within the size limit,
 * whatever their content type (API.md: bodies are JSON; curl users often forget the header).
 */
import type { Context } from "hono";
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Env } from "../env";
import type { Caller } from "../unit/grants";
import { authorize, type Access } from "./auth";
import { checkUrlEncoding } from "./url-encoding";
import { withUserCaller } from "./user-access";
import { readJson } from "./body";
import { validate } from "./validate";

export type AppEnv = { Bindings: Env };
export type App = OpenAPIHono<AppEnv>;
export type Method = "get" | "post" | "put" | "delete";

export const OkResponse = z.object({ message: z.literal("OK") }).passthrough().openapi("Ok");
export const ErrorResponse = z.object({ message: z.string(), detail: z.string() }).openapi("Error");

type AnyObject = z.ZodType<Record<string, unknown>>;

export interface RouteSpec<P extends AnyObject, Q extends AnyObject, B extends z.ZodType, A extends Access = Access> {
  methods: Method[];
  /** OpenAPI-style path: `/access/fetch/{unit}/{key}` */
  path: string;
  summary: string;
  tag: string;
  /** "read" and "write" are on the unit the path names: such a path has a `{unit}` */
  access: A;
  params?: P;
  query?: Q;
  /** the JSON body; an empty body is validated as `undefined` (make the schema optional to allow it) */
  body?: B;
  /** the route reads its body itself (NDJSON); described in the docs as this media type */
  rawBody?: { mediaType: string; description: string };
  response?: z.ZodType;
  description?: string;
}

export interface RouteInput<P extends AnyObject, Q extends AnyObject, B extends z.ZodType, A extends Access = Access> {
  params: z.output<P>;
  query: z.output<Q>;
  body: z.output<B>;
  /** who is asking (authorize()); pass it to the unit methods open to users */
  caller: A extends "public" ? undefined : A extends "admin" ? Extract<Caller, { kind: "admin" }> : Caller;
}

/** Every registered (method, path pattern) per app, so an unmatched request can be told 405 rather than 404. */
const knownRoutes = new WeakMap<App, Array<{ method: string; pattern: RegExp }>>();

/**
 * Records a route served outside `defineRoute` (the OpenAPI document, page files), so a
 * wrong method on it answers 405 like any other route.
 * @example knowRoute(app, "get", "/openapi.json")
 */
export function knowRoute(app: App, method: Method, path: string): void {
  if (!knownRoutes.has(app)) knownRoutes.set(app, []);
  knownRoutes.get(app)!.push({ method, pattern: new RegExp(`^${path.replace(/[.$]/g, "\\$&").replace(/\{\w+\}/g, "[^/]+")}$`) });
}

/** The methods registered for a path, upper case (empty: no route has that path). */
export function methodsAllowedFor(app: App, path: string): string[] {
  const routes = knownRoutes.get(app) ?? [];
  return [...new Set(routes.filter((route) => route.pattern.test(path)).map((route) => route.method.toUpperCase()))];
}

const EmptyObject = z.object({});

export function defineRoute<P extends AnyObject = typeof EmptyObject, Q extends AnyObject = typeof EmptyObject, B extends z.ZodType = z.ZodUndefined, A extends Access = Access>(
  app: App,
  spec: RouteSpec<P, Q, B, A>,
  handler: (c: Context<AppEnv>, input: RouteInput<P, Q, B, A>) => Response | Promise<Response>,
): void {
  const honoPath = spec.path.replace(/\{(\w+)\}/g, ":$1");
  const onUnit = spec.access === "read" || spec.access === "write";
  if (onUnit && !spec.path.includes("{unit}")) throw new Error(`${spec.path}: a route needing '${spec.access}' must name its unit as {unit}, whose grants decide`);
  for (const method of spec.methods) {
    knowRoute(app, method, spec.path);
    app.openAPIRegistry.registerPath({
      method,
      path: spec.path,
      summary: spec.summary,
      description: spec.description,
      tags: [spec.tag],
      security: spec.access === "public" ? [] : [{ bearer: [] }],
      request: {
        params: spec.params as never,
        query: spec.query as never,
        body:
          spec.body && method !== "get"
            ? { content: { "application/json": { schema: spec.body as never } } }
            : spec.rawBody
              ? { content: { [spec.rawBody.mediaType]: { schema: { type: "string", description: spec.rawBody.description } } } }
              : undefined,
      },
      responses: {
        200: { description: "success", content: { "application/json": { schema: (spec.response ?? OkResponse) as never } } },
        default: { description: "an error: `message` is the code, `detail` says how to fix it", content: { "application/json": { schema: ErrorResponse } } },
      },
    });
    app.on(method.toUpperCase(), honoPath, async (c) => {
      // who is asking comes first: a request without a valid token learns nothing about its input
      const caller = await authorize(c, spec.access);
      const run = async () => {
        checkUrlEncoding(c.req.url);
        const params = validate(spec.params ?? EmptyObject, c.req.param(), "path") as z.output<P>;
        const query = validate(spec.query ?? EmptyObject, c.req.query(), "query") as z.output<Q>;
        const body = (spec.body ? validate(spec.body, method === "get" ? undefined : await readJson(c), "body") : undefined) as z.output<B>;
        return handler(c, { params, query, body, caller: caller as RouteInput<P, Q, B, A>["caller"] });
      };
      if (caller?.kind !== "user") return run();
      const hasBody = method !== "get" && (spec.body !== undefined || spec.rawBody !== undefined);
      return withUserCaller(c.env, caller, { unit: c.req.param("unit")!, need: spec.access as "read" | "write", hasBody }, run);
    });
  }
}
