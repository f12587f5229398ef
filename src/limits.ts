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

/**
 * Bytes of a JSON text in UTF-8: how the content limit is measured. Counted from the UTF-16
 * units rather than encoded, which would copy every line of a batch once more: a surrogate
 * pair is 4 bytes, a lone surrogate 3 (the replacement character it is encoded as).
 */
export function jsonBytes(json: string): number {
  let bytes = json.length;
  for (let index = 0; index < json.length; index++) {
    const unit = json.charCodeAt(index);
    if (unit < 0x80) continue;
    if (unit < 0x800) bytes += 1;
    else if (unit >= 0xd800 && unit <= 0xdbff && (json.charCodeAt(index + 1) & 0xfc00) === 0xdc00) {
      bytes += 2;
      index++;
    } else bytes += 2;
  }
  return bytes;
}

/** What a client does with a document over the content limit: more or smaller requests would not help. */
export const CONTENT_ADVICE = "store less in that scope, or split the content across scopes or keys";

/** Why a scope's content is too large, or undefined when it fits the limit. */
export function contentTooLarge(json: string): string | undefined {
  const bytes = jsonBytes(json);
  return bytes > LIMITS.contentBytes ? `content is ${bytes} bytes as JSON; a scope holds at most ${LIMITS.contentBytes} bytes (1 MiB)` : undefined;
}
