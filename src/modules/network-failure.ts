/**
 * What went wrong when a request to an endpoint got no answer at all, in words that say
 * what to check. Each runtime words it its own way: Node puts a code (`ECONNREFUSED`) on
 * the error's `cause`, Bun on the error itself, Deno in the message; Workers say "Network
 * connection lost" for a refused connection and a dropped one alike, so there the answer
 * names both.
 */

/** The error and its causes, as one text to look for a known reason in. */
function errorText(error: unknown): string {
  const parts: string[] = [];
  for (let at: unknown = error, depth = 0; at !== undefined && at !== null && depth < 4; depth++) {
    if (typeof at !== "object") {
      parts.push(String(at));
      break;
    }
    const { message, code } = at as { message?: unknown; code?: unknown };
    parts.push(String(message ?? ""), String(code ?? ""));
    // undici reports a refused dual-stack connection as an AggregateError of one per address
    for (const inner of (at as { errors?: unknown[] }).errors ?? []) parts.push(errorText(inner));
    at = (at as { cause?: unknown }).cause;
  }
  return parts.join(" ");
}

/**
 * Why `request` (e.g. `POST https://search.example/_bulk`) got no answer from `origin`, and
 * what to check; `error` is what the runtime's `fetch` threw.
 * @example networkFailure("POST http://127.0.0.1:1/bulk", "http://127.0.0.1:1", error)
 * // "POST http://127.0.0.1:1/bulk: the connection was refused: nothing listens at http://127.0.0.1:1; ..."
 */
export function networkFailure(request: string, origin: string, error: unknown): string {
  const text = errorText(error);
  const check = "check settings.url and that the endpoint is running and reachable from this server";
  if (/ECONNREFUSED|ConnectionRefused|connection refused/i.test(text))
    return `${request}: the connection was refused: nothing listens at ${origin}; ${check}`;
  if (/bad port/i.test(text))
    return `${request}: fetch refuses the port of ${origin} (a port the Fetch standard blocks); serve the endpoint on another port`;
  if (/ENOTFOUND|EAI_AGAIN|failed to lookup|dns/i.test(text)) return `${request}: the host name of ${origin} does not resolve; check settings.url`;
  const said = error instanceof Error ? error.message : String(error);
  return `${request}: could not connect to ${origin}, or the connection was lost before an answer (${said}); ${check}`;
}
