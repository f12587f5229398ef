// The benchmarks' one HTTP caller of a server they started: JSON or NDJSON bodies, the
// answer's JSON, and a thrown error naming the call for any status but 200.

/**
 * A caller that sends `token` as the bearer token.
 * @example const api = apiCaller("bench-token"); await api(url, "GET", "/reprocess/status/docs");
 */
export function apiCaller(token) {
  return async function api(url, method, path, body) {
    const headers = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers["content-type"] = typeof body === "string" ? "application/x-ndjson" : "application/json";
    const response = await fetch(`${url}${path}`, {
      method,
      headers,
      body: typeof body === "string" || body === undefined ? body : JSON.stringify(body),
    });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 500)}`);
    return JSON.parse(text);
  };
}
