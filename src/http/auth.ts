/**
 * Bearer-token checks. The admin token is the `ADMIN_TOKEN` secret; tokens are compared
 * through their SHA-256 digests so the comparison takes the same time wherever they differ.
 */
import type { Context } from "hono";
import type { Env } from "../env";
import { ApiError } from "../errors";

/** What a route needs: nothing, the admin token, or read / write on the unit it names. */
export type Access = "public" | "admin" | "read" | "write";

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Constant-time equality of two strings, by comparing their digests byte by byte. */
export async function tokensEqual(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([sha256Hex(given), sha256Hex(expected)]);
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

export function bearerToken(c: Context): string | undefined {
  const header = c.req.header("authorization");
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

/** Throws 503 / 401 / 403 unless the request may use a route that needs `access`. */
export async function authorize(c: Context<{ Bindings: Env }>, access: Access, unit?: string): Promise<void> {
  if (access === "public") return;
  const adminToken = c.env.ADMIN_TOKEN;
  if (!adminToken) {
    throw new ApiError("AUTH_NOT_CONFIGURED", "no ADMIN_TOKEN is configured: set it with `wrangler secret put ADMIN_TOKEN` (or in .dev.vars locally)");
  }
  const token = bearerToken(c);
  if (!token) throw new ApiError("UNAUTHORIZED", "send `Authorization: Bearer <token>`");
  if (await tokensEqual(token, adminToken)) return;
  void unit;
  throw new ApiError("UNAUTHORIZED", "the token is not valid; check the Authorization header");
}
