/**
 * The console's calls to the API: the token from the login form as a bearer token, and
 * every answer other than 200 turned into an {@link ApiFailure} carrying the API's own
 * code and detail, so what the user sees is what the API said.
 */

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
  ) {
    super(`${code}: ${detail}`);
  }
}

export class Api {
  constructor(readonly token: string) {}

  async call<T>(method: "GET" | "POST" | "PUT", path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiFailure(0, "NETWORK_ERROR", `the server did not answer ${method} ${path}; check that it is running`);
    }
    const text = await response.text();
    let answer: { message?: string; detail?: string } | undefined;
    try {
      answer = JSON.parse(text);
    } catch {
      answer = undefined;
    }
    if (response.status === 200 && answer) return answer as T;
    const code = answer?.message ?? `HTTP_${response.status}`;
    throw new ApiFailure(response.status, code, answer?.detail ?? `${method} ${path} answered ${response.status} ${text.slice(0, 200)}`);
  }
}

/** A path with each segment percent-encoded, as API.md has keys and names travel. */
export function path(...segments: string[]): string {
  return `/${segments.map(encodeURIComponent).join("/")}`;
}
