/**
 * Percent-encoding checks for the request URL. Hono decodes path parameters and query
 * values leniently (a sequence that is not UTF-8 stays as typed), which would make `%FF`
 * and `%25FF` name the same key; API.md says keys travel percent-encoded, so a URL whose
 * encoding does not decode to UTF-8 is refused instead.
 */
import { ApiError } from "../errors";

/** Throws 400 naming the first path segment or query parameter whose percent-encoding is not valid UTF-8. */
export function checkUrlEncoding(url: string): void {
  const parsed = new URL(url);
  parsed.pathname.split("/").forEach((segment, index) => {
    if (!decodes(segment)) throw invalid(`path segment ${index} ('${segment.slice(0, 80)}')`);
  });
  for (const pair of parsed.search.slice(1).split("&")) {
    if (!decodes(pair.replace(/\+/g, " "))) throw invalid(`query parameter '${pair.slice(0, 80)}'`);
  }
}

function decodes(text: string): boolean {
  try {
    decodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}

function invalid(where: string): ApiError {
  return new ApiError("INVALID_REQUEST", `${where} is not valid percent-encoded UTF-8; encode each part with encodeURIComponent`);
}
