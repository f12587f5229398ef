/** Turning the typed client's responses into their 200 bodies, or a {@link RestageError}. */
import type { ClientResponse } from "hono/client";
import type { ErrorCode } from "./server-types.js";

/** An error answer of the API: `{message: code, detail}` with its status. */
export class RestageError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | string,
    readonly detail: string,
  ) {
    super(`${status} ${code}: ${detail}`);
    this.name = "RestageError";
  }
}

/** The body of the 200 answer among a response's possible answers. */
export type OkBody<R> = R extends ClientResponse<infer T, 200, "json"> ? T : never;

/**
 * The 200 body of a typed call, or throws {@link RestageError} with the answer's code and detail.
 * @example const status = await data(client.api.reprocess.status[":unit"].$get({ param: { unit: "docs" } }));
 */
// biome-ignore lint/suspicious/noExplicitAny: any response format: the body is read as text, then JSON
export async function data<R extends ClientResponse<unknown, number, any>>(response: R | Promise<R>): Promise<OkBody<R>> {
  const answer = await response;
  const text = await answer.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new RestageError(answer.status, "INVALID_ANSWER", `the answer is not JSON: ${text.slice(0, 200)}`);
  }
  if (answer.status === 200) return body as OkBody<R>;
  const { message, detail } = (body ?? {}) as { message?: string; detail?: string };
  throw new RestageError(answer.status, message ?? "UNKNOWN", detail ?? text.slice(0, 200));
}
