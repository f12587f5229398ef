/**
 * Reading request bodies within the limits of API.md. The size limit is enforced while
 * the stream is read, so a lying or missing `content-length` cannot get past it.
 */
import { ApiError } from "../errors";
import { CONTENT_ADVICE, LIMITS } from "../limits";

/** What reading a body needs of a request's context. */
type WithBody = { req: { header(name: string): string | undefined; raw: Request } };

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** The body as text; 413 past `limitBytes` (its detail ending with `advice`), 400 for bytes that are not UTF-8. */
export async function readText(c: WithBody, limitBytes: number, advice: string): Promise<string> {
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > limitBytes) throw tooLarge(limitBytes, advice);
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
      throw tooLarge(limitBytes, advice);
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
 * Parses one JSON text, refusing what could not be stored exactly as sent: content nested
 * deeper than the limit (the body itself may be one level deeper:
 * `{"key":...,"content":{...}}`), a `__proto__` key, and a number beyond the range of a
 * double (`1e309`). `where` names the input in the error ("body", "line 3").
 */
export function parseJson(text: string, where = "body"): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ApiError("INVALID_REQUEST", `${where}: malformed JSON (${(error as Error).message}); send one valid JSON value`);
  }
  const problem = unstorable(value, LIMITS.jsonDepth);
  if (problem) throw new ApiError("INVALID_REQUEST", `${where}: ${problem}`);
  return value;
}

/**
 * What to do with a JSON body over its limit: the limit is one scope's content and its
 * envelope, so a single document that large cannot be sent in pieces; it must shrink.
 */
const JSON_BODY_ADVICE = `a JSON body holds one scope's content of at most ${LIMITS.contentBytes} bytes (1 MiB) as JSON and its envelope: ${CONTENT_ADVICE} (a list of keys: send fewer per call)`;

/** The body as JSON, or `undefined` when it is empty. Any content type is read as JSON. */
export async function readJson(c: WithBody, limitBytes: number = LIMITS.jsonBodyBytes): Promise<unknown> {
  const text = await readText(c, limitBytes, JSON_BODY_ADVICE);
  if (text.trim() === "") return undefined;
  return parseJson(text);
}

/** One object or array on the walk, with the way back to the root for naming where it is. */
type Step = { node: object; depth: number; parent: Step | undefined; key: string | number | undefined };

/**
 * Why a parsed JSON value could not be stored exactly as sent, or `undefined`. JSON.parse
 * keeps a `"__proto__"` key as an own property, but every later copy (zod, spreads,
 * assignment) would set the prototype instead and drop it; `1e309` parses to Infinity,
 * which JSON.stringify writes as `null`. One walk, without recursion so hostile input
 * cannot overflow the stack, that stops at the first problem or past `contentDepth`
 * levels of content (the value itself may be one level deeper: `{"key":...,"content":{...}}`).
 * @example unstorable(JSON.parse('{"a":[1e309]}'), 64) // "the number at a[0] is ..."
 */
export function unstorable(value: unknown, contentDepth: number): string | undefined {
  const maxDepth = contentDepth + 1;
  if (typeof value === "number" && !Number.isFinite(value)) return nonFinite(undefined, undefined);
  if (typeof value !== "object" || value === null) return undefined;
  const stack: Step[] = [{ node: value, depth: 1, parent: undefined, key: undefined }];
  while (stack.length > 0) {
    const step = stack.pop()!;
    if (step.depth > maxDepth) return `content nested deeper than ${contentDepth} levels; flatten the document`;
    const { node } = step;
    if (Array.isArray(node)) {
      for (let index = 0; index < node.length; index++) {
        const child: unknown = node[index];
        if (typeof child === "object" && child !== null) stack.push({ node: child, depth: step.depth + 1, parent: step, key: index });
        else if (typeof child === "number" && !Number.isFinite(child)) return nonFinite(step, index);
      }
      continue;
    }
    if (Object.hasOwn(node, "__proto__")) {
      return `the key "__proto__" at ${pathOf(step, "__proto__")} is not accepted: JavaScript would take it for the object's prototype, so it could not be stored as sent; rename the key`;
    }
    for (const key of Object.keys(node)) {
      const child: unknown = (node as Record<string, unknown>)[key];
      if (typeof child === "object" && child !== null) stack.push({ node: child, depth: step.depth + 1, parent: step, key });
      else if (typeof child === "number" && !Number.isFinite(child)) return nonFinite(step, key);
    }
  }
  return undefined;
}

function nonFinite(parent: Step | undefined, key: string | number | undefined): string {
  return `the number at ${pathOf(parent, key)} is beyond the range of a 64-bit float (about ±1.8e308) and could not be stored as sent; send a smaller number, or the value as a string`;
}

/** `content.tags[2]`, `["a b"].c`; "the top level" for the root. */
function pathOf(parent: Step | undefined, key: string | number | undefined): string {
  const parts: string[] = [];
  for (let step: Step | undefined = parent, at = key; at !== undefined; at = step?.key, step = step?.parent) {
    parts.unshift(typeof at === "number" ? `[${at}]` : /^[A-Za-z_$][\w$]*$/.test(at) ? `.${at}` : `[${JSON.stringify(at)}]`);
  }
  const path = parts.join("").replace(/^\./, "");
  return path === "" ? "the top level" : path;
}

function tooLarge(limitBytes: number, advice: string): ApiError {
  return new ApiError("PAYLOAD_TOO_LARGE", `the body is larger than ${limitBytes} bytes; ${advice}`);
}
