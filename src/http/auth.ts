/**
 * Who is asking: `authorize()` turns the bearer token into a {@link Caller} or an error.
 * The admin token is the `ADMIN_TOKEN` secret, compared in constant time. A user's token
 * must carry this server's MAC (user-tokens.ts): a made-up one is refused here, before
 * any object is reached; an issued one is passed on as its hash, and the unit the route
 * names decides with its own grants (user-access.ts). Admin routes refuse user tokens.
 */
import type { Context } from "hono";
import type { Env } from "../env";
import { ApiError } from "../errors";
import { howToSetSecret } from "../secrets";
import type { Caller } from "../unit/grants";
import { refusalFor, unauthorized } from "./user-access";
import { isIssuedToken, tokenHash } from "./user-tokens";

/**
 * What a route needs: nothing, the admin token, read / write on the unit it names, or
 * any valid token ("token": the route itself tells an issued token nobody holds any more).
 */
export type Access = "public" | "admin" | "read" | "write" | "token";

export function bearerToken(c: Pick<Context, "req">): string | undefined {
  const header = c.req.header("authorization");
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

/** The admin token's hash, computed once for the token this isolate was given. */
let adminHash: { token: string; hash: Promise<string> } | undefined;

function adminTokenHash(adminToken: string): Promise<string> {
  if (adminHash?.token !== adminToken) adminHash = { token: adminToken, hash: tokenHash(adminToken) };
  return adminHash.hash;
}

/**
 * Two hex SHA-256 hashes compared in constant time: the time taken does not depend on where
 * the tokens hashed differ, nor on their lengths.
 */
function sameHash(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let index = 0; index < a.length; index++) difference |= a.charCodeAt(index) ^ b.charCodeAt(index);
  return difference === 0;
}

/**
 * The caller of a route that needs `access` (undefined for a public route); throws 503
 * without ADMIN_TOKEN, 401 for a missing or made-up token, 403 for a user's token on an
 * admin route.
 * @example const caller = await authorize(c, "read"); // { kind: "user", tokenHash: "9f8…" }
 */
export async function authorize(c: Pick<Context<{ Bindings: Env }>, "env" | "req">, access: Access): Promise<Caller | undefined> {
  if (access === "public") return undefined;
  const adminToken = c.env.ADMIN_TOKEN;
  if (!adminToken) {
    throw new ApiError("AUTH_NOT_CONFIGURED", `no ADMIN_TOKEN is configured, so every guarded route is closed: ${howToSetSecret("ADMIN_TOKEN")}`);
  }
  const token = bearerToken(c);
  if (!token) throw new ApiError("UNAUTHORIZED", "send `Authorization: Bearer <token>`");
  // one hash of the token serves both: the comparison with the admin token's, and a user's identity
  const hash = await tokenHash(token);
  if (sameHash(hash, await adminTokenHash(adminToken))) return { kind: "admin" };
  if (!(await isIssuedToken(c.env, token))) throw unauthorized();
  const caller = { kind: "user", tokenHash: hash } as const;
  if (access === "read" || access === "write" || access === "token") return caller;
  throw await refusalFor(c.env, caller.tokenHash, (user) => `user '${user}' cannot use this route: it needs the admin token`);
}
