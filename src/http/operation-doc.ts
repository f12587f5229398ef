/**
 * An operation's entry in the OpenAPI document: its parameters and body, its 200 answer,
 * and one error answer per status with the codes it can give (API.md, "Typed API"). The
 * codes every operation of a kind can give (401 without a token, 400 for bad input, ...)
 * are added here, so an operation lists only its own.
 */
import type { RouteConfig, z } from "@hono/zod-openapi";
import { ERROR_STATUS, type ErrorCode } from "../errors";
import { errorAnswer } from "./answers";
import type { Access } from "./auth";

/** One (method, path) of the API: what routes.add() registers, documents and types. */
export interface Operation {
  method: "get" | "post" | "put" | "delete";
  /** OpenAPI-style path: `/access/fetch/{unit}/{key}` */
  path: string;
  /** unique in the document: a generated client's method name */
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  /** "read" and "write" are on the unit the path names: such a path has a `{unit}` */
  access: Access;
  params?: z.ZodType<Record<string, unknown>>;
  query?: z.ZodType<Record<string, unknown>>;
  /** the JSON body, read whatever the content type; an empty body is validated as `undefined` (make the schema optional to allow it) */
  body?: z.ZodType;
  /** the route reads its body itself (NDJSON); described in the document as this media type */
  rawBody?: { mediaType: string; description: string };
  /** the 200 answer (JSON), "html" for a page, or "text" for Prometheus text (`GET /metrics`) */
  answer: z.ZodType | "html" | "text";
  /** the error codes of this operation beyond those added for its access and inputs */
  errors?: readonly ErrorCode[];
}

const DESCRIPTIONS: Record<number, string> = {
  400: "the request is not valid: `detail` names each bad field",
  401: "missing or wrong token",
  403: "the token is valid but may not do this",
  404: "what the path names does not exist",
  409: "a conflict with the stored state",
  413: "the body or a content is over the limit",
  500: "an unexpected error (logged; never a stack trace)",
  503: "the service cannot answer now: see `message`",
  507: "the storage is full",
};

/** The codes an operation can give: its own, and those of its access and inputs. */
export function errorCodesOf(operation: Operation): ErrorCode[] {
  const codes = new Set<ErrorCode>(operation.errors ?? []);
  if (operation.access !== "public") {
    for (const code of ["UNAUTHORIZED", "AUTH_NOT_CONFIGURED", "INTERNAL_ERROR"] as const) codes.add(code);
    // any valid token may use a "token" route: none is refused with 403
    if (operation.access !== "token") codes.add("FORBIDDEN");
  }
  if (operation.params || operation.query || operation.body || operation.rawBody) codes.add("INVALID_REQUEST");
  if (operation.body || operation.rawBody) codes.add("PAYLOAD_TOO_LARGE");
  if (operation.path.includes("{unit}") && operation.access !== "public") codes.add("OVERLOADED");
  return [...codes];
}

export function documentOperation(operation: Operation): RouteConfig {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errorCodesOf(operation)) {
    const status = ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const errors = Object.fromEntries(
    [...byStatus].map(([status, codes]) => [
      status,
      { description: DESCRIPTIONS[status] ?? "an error", content: { "application/json": { schema: errorAnswer(codes) } } },
    ]),
  );
  const { answer, body, rawBody } = operation;
  return {
    method: operation.method,
    path: operation.path,
    operationId: operation.operationId,
    summary: operation.summary,
    description: operation.description,
    tags: [operation.tag],
    security: operation.access === "public" ? [] : [{ bearer: [] }],
    request: {
      params: operation.params as never,
      query: operation.query as never,
      body: body
        ? { content: { "application/json": { schema: body } }, required: !body.safeParse(undefined).success }
        : rawBody
          ? { content: { [rawBody.mediaType]: { schema: { type: "string", description: rawBody.description } } }, required: true }
          : undefined,
    },
    responses: {
      200:
        answer === "html"
          ? { description: "the page", content: { "text/html": { schema: { type: "string" } } } }
          : answer === "text"
            ? { description: "Prometheus text exposition", content: { "text/plain; version=0.0.4": { schema: { type: "string" } } } }
            : { description: "success", content: { "application/json": { schema: answer } } },
      ...errors,
    },
  };
}
