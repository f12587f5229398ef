/**
 * Reading request bodies within the limits of API.md. The size limit is enforced while
 * the stream is read, so a lying or missing `content-length` cannot get past it.
 */
import type { Context } from "hono";
import { ApiError } from "../errors";
import { LIMITS } from "../limits";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** The body as text; 413 past `limitBytes`, 400 for bytes that are not UTF-8. */
export async function readText(c: Context, limitBytes: number): Promise<string> {
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > limitBytes) throw tooLarge(limitBytes);
  const stream = c.req.raw.body;
  if (!stream) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limitBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(limitBytes);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new ApiError("INVALID_REQUEST", "the body is not valid UTF-8: send JSON text encoded as UTF-8");
  }
}

/**
 * Parses one JSON text, refusing content nested deeper than the limit (the body itself
 * may be one level deeper: `{"key":...,"content":{...}}`). `where` names the input
 * in the error ("body", "line 3").
 */
export function parseJson(text: string, where = "body"): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ApiError("INVALID_REQUEST", `${where}: malformed JSON (${(error as Error).message}); send one valid JSON value`);
  }
  // the limit is the content's own nesting; the body wraps content in one more level
  const bodyDepth = LIMITS.jsonDepth + 1;
  if (depthOf(value, bodyDepth) > bodyDepth) {
    throw new ApiError("INVALID_REQUEST", `${where}: content nested deeper than ${LIMITS.jsonDepth} levels; flatten the document`);
  }
  return value;
}

/** The body as JSON, or `undefined` when it is empty. Any content type is read as JSON. */
export async function readJson(c: Context, limitBytes: number = LIMITS.jsonBodyBytes): Promise<unknown> {
  const text = await readText(c, limitBytes);
  if (text.trim() === "") return undefined;
  return parseJson(text);
}

/**
 * Nesting depth of a parsed JSON value, walked without recursion so hostile input cannot
 * overflow the stack; the walk stops as soon as the depth passes `stopAbove`.
 * @example depthOf({ a: { b: [] } }) // 3
 */
export function depthOf(value: unknown, stopAbove = Infinity): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== "object" || node === null) continue;
    if (depth > deepest) deepest = depth;
    if (deepest > stopAbove) return deepest;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    }
  }
  return deepest;
}

function tooLarge(limitBytes: number): ApiError {
  return new ApiError("PAYLOAD_TOO_LARGE", `the body is larger than ${limitBytes} bytes; split it into smaller requests`);
}
