/** The limits of API.md ("Conventions"), in one place so routes, the unit and the docs agree. */
export const LIMITS = {
  /** content of one scope, measured as its JSON text in UTF-8 */
  contentBytes: 1024 * 1024,
  /** nesting of one scope's content: `{}` is 1 level (a request body may be one level deeper) */
  jsonDepth: 64,
  keyBytes: 512,
  reprocessKeys: 10_000,
  fetchMultipleKeys: 1_000,
  batchLines: 10_000,
  batchBytes: 16 * 1024 * 1024,
  /** a list response stops before its records pass this many bytes */
  listResponseBytes: 8 * 1024 * 1024,
  /** a JSON body other than a batch: one scope's content plus room for the envelope */
  jsonBodyBytes: 1024 * 1024 + 64 * 1024,
  pageSizeMax: 1000,
  pageSizeDefault: 10,
} as const;

const utf8 = new TextEncoder();

/** Bytes of a JSON text in UTF-8: how the content limit is measured. */
export function jsonBytes(json: string): number {
  return utf8.encode(json).length;
}

/** What a client does with a document over the content limit: more or smaller requests would not help. */
export const CONTENT_ADVICE = "store less in that scope, or split the content across scopes or keys";

/** Why a scope's content is too large, or undefined when it fits the limit. */
export function contentTooLarge(json: string): string | undefined {
  const bytes = jsonBytes(json);
  return bytes > LIMITS.contentBytes ? `content is ${bytes} bytes as JSON; a scope holds at most ${LIMITS.contentBytes} bytes (1 MiB)` : undefined;
}
