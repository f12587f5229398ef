/**
 * Typed routes: one {@link Operation} per (method, path). Its zod schemas validate the
 * request (400 naming each bad field), describe it and its answers in the OpenAPI document
 * (operation-doc.ts) and type the handler — `c.req.valid("param" | "query" | "json")`,
 * `c.var.caller`, and the answer it must return — and, through {@link Routes.add}, the
 * app's schema that `hc<AppType>` reads (src/client).
 *
 * The route's access rule is checked before its input is read, so a caller without a
 * valid token gets 401 before any 400. The inputs are read here rather than by
 * `@hono/zod-openapi`'s own validators, because API.md reads a JSON body whatever its
 * content type (curl users often forget the header) and `transaction/batch` reads NDJSON;
 * the validated values are handed on with `addValidatedData`, where `c.req.valid` finds them.
 */
import type { Handler, Schema, ToSchema } from "hono";
import type { BlankSchema } from "hono/types";
import { type OpenAPIHono, z, type RouteConfigToTypedResponse, type RouteHandler } from "@hono/zod-openapi";
import type { Env } from "../env";
import { ApiError, unknownUnit, type ERROR_STATUS } from "../errors";
import type { AdminCaller, Caller } from "../unit/grants";
import type { ErrorAnswer } from "./answers";
import { authorize, type Access } from "./auth";
import { readJson } from "./body";
import { documentOperation, type Operation } from "./operation-doc";
import { checkUrlEncoding } from "./url-encoding";
import { withUserCaller } from "./user-access";
import { validate } from "./validate";

export type { Operation } from "./operation-doc";
export type AppEnv = { Bindings: Env; Variables: { caller: Caller | undefined } };
export type App<S extends Schema = BlankSchema> = OpenAPIHono<AppEnv, S>;
export type Method = Operation["method"];

/** Every registered (method, path pattern) per app, so an unmatched request can be told 405 rather than 404. */
// biome-ignore lint/suspicious/noExplicitAny: an app of any schema: the schema only types handlers and clients
const knownRoutes = new WeakMap<App<any>, Array<{ method: string; path: string; pattern: RegExp }>>();

/**
 * Records a route served outside {@link Routes.add} (the OpenAPI document, page files), so a
 * wrong method on it answers 405 like any other route.
 * @example knowRoute(app, "get", "/openapi.json")
 */
// biome-ignore lint/suspicious/noExplicitAny: an app of any schema
export function knowRoute(app: App<any>, method: Method, path: string): void {
  if (!knownRoutes.has(app)) knownRoutes.set(app, []);
  knownRoutes.get(app)!.push({ method, path, pattern: new RegExp(`^${path.replace(/[.$]/g, "\\$&").replace(/\{\w+\}/g, "[^/]+")}$`) });
}

/** The methods registered for a path, upper case (empty: no route has that path). */
// biome-ignore lint/suspicious/noExplicitAny: an app of any schema
export function methodsAllowedFor(app: App<any>, path: string): string[] {
  const routes = knownRoutes.get(app) ?? [];
  return [...new Set(routes.filter((route) => route.pattern.test(path)).map((route) => route.method.toUpperCase()))];
}

/**
 * The route a path with more segments than any route of its kind resembles: the longest
 * route with a parameter whose segments match the start of the path (each literal as it
 * is, each parameter any one segment), as `METHOD|METHOD /its/{path}`. Undefined when none
 * does. Such a path is most often a key sent with an unencoded `/`.
 * @example resembledRoute(app, "/access/fetch/docs/a/b/raw") // "GET|POST /access/fetch/{unit}/{key}/{scope}"
 */
// biome-ignore lint/suspicious/noExplicitAny: an app of any schema
export function resembledRoute(app: App<any>, path: string): { route: string; namesKey: boolean } | undefined {
  const segments = path.split("/").slice(1);
  if (segments.some((segment) => segment === "")) return undefined;
  let best: { path: string; length: number; methods: string[] } | undefined;
  for (const route of knownRoutes.get(app) ?? []) {
    const parts = route.path.split("/").slice(1);
    const matches =
      parts.length < segments.length &&
      parts.some((part) => part.startsWith("{")) &&
      parts.every((part, index) => part.startsWith("{") || part === segments[index]);
    if (!matches) continue;
    if (best?.path === route.path) best.methods.push(route.method.toUpperCase());
    else if (!best || parts.length > best.length) best = { path: route.path, length: parts.length, methods: [route.method.toUpperCase()] };
  }
  return best && { route: `${[...new Set(best.methods)].join("|")} ${best.path}`, namesKey: best.path.includes("{key}") };
}

// ── the types an operation gives its handler and the client ─────────────────────────

type JsonContent<S> = { content: { "application/json": { schema: S } }; description: string };
type ErrorStatus = (typeof ERROR_STATUS)[keyof typeof ERROR_STATUS];

/** An operation as `@hono/zod-openapi` types a route: what its helper types read. */
export type RouteOf<O extends Operation> = {
  method: O["method"];
  path: O["path"];
  request: {
    params: O extends { params: infer P extends z.ZodType } ? P : undefined;
    query: O extends { query: infer Q extends z.ZodType } ? Q : undefined;
    body: O extends { body: infer B extends z.ZodType } ? JsonContent<B> & { required?: boolean } : undefined;
  };
  responses: {
    200: O["answer"] extends z.ZodType
      ? JsonContent<O["answer"]>
      : O["answer"] extends "text"
        ? { content: { "text/plain; version=0.0.4": { schema: z.ZodString } }; description: string }
        : { content: { "text/html": { schema: z.ZodString } }; description: string };
  } & { [S in Exclude<ErrorStatus, 405>]: JsonContent<typeof ErrorAnswer> };
};

/** Who the handler is called for: nobody on a public route, the admin on an admin route. */
export type CallerOf<A extends Access> = A extends "public" ? undefined : A extends "admin" ? AdminCaller : Caller;
type OperationEnv<O extends Operation> = { Bindings: Env; Variables: { caller: CallerOf<O["access"]> } };

export type OperationHandler<O extends Operation> = RouteHandler<RouteOf<O>, OperationEnv<O>>;
// biome-ignore lint/suspicious/noExplicitAny: only the input is inferred; the other parameters are left open
type InputOf<O extends Operation> = OperationHandler<O> extends Handler<any, any, infer I, any> ? I : never;
type HonoPath<T extends string> = T extends `${infer Start}/{${infer Param}}${infer Rest}` ? `${Start}/:${Param}${HonoPath<Rest>}` : T;
/** What an operation adds to the app's schema (`hc` reads it). */
export type SchemaOf<O extends Operation> = ToSchema<O["method"], HonoPath<O["path"]>, InputOf<O>, RouteConfigToTypedResponse<RouteOf<O>>>;

const EmptyObject = z.object({});

/**
 * Adds operations to an app, one call each, and keeps their types: the app's schema grows
 * with each, so `routes(app).add(a, ha).add(b, hb).app` is typed with both.
 * @example
 * routes(app).add({ method: "get", path: "/health", operationId: "health", summary: "Liveness", tag: "Other", access: "public", answer: Ok }, (c) => ok(c)).app
 */
export class Routes<S extends Schema> {
  constructor(readonly app: App<S>) {}

  add<const O extends Operation>(operation: O, handler: OperationHandler<O>): Routes<S & SchemaOf<O>> {
    register(this.app, operation, handler as unknown as Handler<AppEnv>);
    return this as unknown as Routes<S & SchemaOf<O>>;
  }
}

export function routes<S extends Schema>(app: App<S>): Routes<S> {
  return new Routes(app);
}

// biome-ignore lint/suspicious/noExplicitAny: an app of any schema
function register(app: App<any>, operation: Operation, handler: Handler<AppEnv>): void {
  const { method, path, access } = operation;
  const onUnit = access === "read" || access === "write";
  if (onUnit && !path.includes("{unit}")) throw new Error(`${path}: a route needing '${access}' must name its unit as {unit}, whose grants decide`);
  knowRoute(app, method, path);
  app.openAPIRegistry.registerPath(documentOperation(operation));
  app.on(method.toUpperCase(), path.replace(/\{(\w+)\}/g, ":$1"), async (c, next) => {
    // who is asking comes first: a request without a valid token learns nothing about its input
    const caller = await authorize(c, access);
    c.set("caller", caller);
    const run = async () => {
      checkUrlEncoding(c.req.url);
      c.req.addValidatedData("param", validate(operation.params ?? EmptyObject, c.req.param(), "path"));
      c.req.addValidatedData("query", validate(operation.query ?? EmptyObject, c.req.query(), "query"));
      if (operation.body)
        c.req.addValidatedData("json", validate(operation.body, method === "get" ? undefined : await readJson(c), "body") as object);
      try {
        return (await handler(c, next)) as Response;
      } catch (error) {
        // every "no such unit" on a route that names one is about that unit
        const unit = c.req.param("unit");
        throw error instanceof ApiError && error.code === "STORAGE_UNIT_DOESNT_EXIST" && unit ? unknownUnit(unit) : error;
      }
    };
    // a "token" route names no unit: it answers for the token itself
    if (caller?.kind !== "user" || access === "token") return run();
    const hasBody = method !== "get" && (operation.body !== undefined || operation.rawBody !== undefined);
    return withUserCaller(c.env, caller, { unit: c.req.param("unit")!, need: access as "read" | "write", hasBody }, run);
  });
}
