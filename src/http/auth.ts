/**
 * Bearer-token checks. The admin token is the `ADMIN_TOKEN` secret; tokens are compared
 * through their SHA-256 digests so the comparison takes the same time wherever they differ.
 * A user's token (Security API) is checked by the unit a route names, within the route's
 * own call to it (see user-access.ts); admin routes refuse it.
 */
import type { Context } from "hono";
import { toBase64Url } from "../base64url";
import type { Env } from "../env";
import { ApiError } from "../errors";
import { beginUserCall, refusalFor, unauthorized } from "./user-access";

/** What a route needs: nothing, the admin token, or read / write on the unit it names. */
export type Access = "public" | "admin" | "read" | "write";

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Constant-time equality of two hex digests: comparing digests, not tokens, takes the same time wherever the tokens differ. */
function digestsEqual(a: string, b: string): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

const USER_TOKEN_PREFIX = "rs_";
/** Issued user tokens: a prefix and 32 random bytes in base64url; anything else is refused without asking a unit. */
const USER_TOKEN_PATTERN = /^rs_[A-Za-z0-9_-]{43}$/;

/**
 * A new user token: 256 random bits. It is shown once; only its SHA-256 hash is stored.
 * @example const token = newUserToken(); // "rs_3q2-..."
 */
export function newUserToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return USER_TOKEN_PREFIX + toBase64Url(bytes);
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
  const [tokenHash, adminHash] = await Promise.all([sha256Hex(token), sha256Hex(adminToken)]);
  if (digestsEqual(tokenHash, adminHash)) return;
  if (!USER_TOKEN_PATTERN.test(token)) throw unauthorized();
  if ((access === "read" || access === "write") && unit !== undefined) {
    beginUserCall(c, { tokenHash, need: access, unit });
    return;
  }
  throw await refusalFor(c.env, tokenHash, (user) => `user '${user}' cannot use this route: it needs the admin token`);
}
