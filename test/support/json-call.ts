/**
 * One way to call the API from tests, for both suites: the Workers-runtime tests pass the
 * Worker's own fetch handler, the end-to-end suite the global `fetch` to a live server.
 */
export interface Answer<T = Record<string, any>> {
  status: number;
  body: T;
  headers: Headers;
}

export interface CallOptions {
  /** the bearer token; undefined: the admin token, null: none */
  token?: string | null;
  headers?: Record<string, string>;
}

export type Caller = <T = Record<string, any>>(method: string, path: string, body?: unknown, options?: CallOptions) => Promise<Answer<T>>;

/**
 * A caller over `send`: objects go as JSON, strings and bytes as they are; the answer's
 * body is parsed as JSON when it is JSON, else left as text for the test to look at.
 * @example const call = jsonCaller((request) => fetch(request), "http://127.0.0.1:8787", token);
 */
export function jsonCaller(send: (request: Request) => Promise<Response>, baseUrl: string, adminToken: string): Caller {
  return async <T>(method: string, path: string, body?: unknown, options: CallOptions = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? adminToken : options.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let payload: BodyInit | undefined;
    if (typeof body === "string" || body instanceof Uint8Array) payload = body as BodyInit;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers["content-type"] ??= "application/json";
    }
    const response = await send(new Request(baseUrl + path, { method, headers, body: payload }));
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: the test looks at the text
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  };
}
