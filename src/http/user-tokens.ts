/**
 * User tokens (Security API): `rs_` and the base64url text (no padding, 86 characters) of
 * 32 random bytes followed by their HMAC-SHA256 under the server's token key. The MAC lets
 * the Worker tell a token it issued from a made-up one by itself: a made-up token is
 * refused before any object is reached and before any body is read, and a real one costs
 * no extra hop. Grants and revocation are still decided by the unit (src/unit/grants.ts).
 *
 * The key is derived from `TOKEN_SECRET` when it is set, else from `ADMIN_TOKEN`:
 * HMAC-SHA256(secret, KEY_LABEL). Changing that secret invalidates every user token (give
 * each user a new one with PUT /security/user/<user>). Without TOKEN_SECRET, a user's token
 * lets its holder test guesses of ADMIN_TOKEN offline: ADMIN_TOKEN must then be long and
 * random (it should be anyway), or set TOKEN_SECRET.
 */
import { sha256 } from "hono/utils/crypto";
import { decodeBase64Url, encodeBase64Url } from "hono/utils/encode";
import type { Env } from "../env";

const PREFIX = "rs_";
const RANDOM_BYTES = 32;
/** 64 bytes in base64url without its two padding characters */
const SHAPE = /^rs_[A-Za-z0-9_-]{86}$/;
/** Domain separation: the token key is not the secret itself, and a later scheme takes another label. */
const KEY_LABEL = "restage user-token MAC key v1";

/** The token key of the last secret seen: the secret rarely changes, so an isolate derives it once. */
let cachedKey: { secret: string; key: Promise<CryptoKey> } | undefined;

function tokenKey(env: Pick<Env, "TOKEN_SECRET" | "ADMIN_TOKEN">): Promise<CryptoKey> {
  const secret = env.TOKEN_SECRET || env.ADMIN_TOKEN;
  if (!secret) throw new Error("tokenKey needs TOKEN_SECRET or ADMIN_TOKEN: authorize() answers 503 before this");
  if (cachedKey?.secret !== secret) cachedKey = { secret, key: deriveKey(secret) };
  return cachedKey.key;
}

async function deriveKey(secret: string): Promise<CryptoKey> {
  const encoder = new TextEncoder();
  const master = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const derived = await crypto.subtle.sign("HMAC", master, encoder.encode(KEY_LABEL));
  return crypto.subtle.importKey("raw", derived, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

function toText(bytes: Uint8Array): string {
  return encodeBase64Url(bytes.buffer as ArrayBuffer).replace(/=+$/, "");
}

/**
 * A new user token. It is shown once; only its SHA-256 hash is stored.
 * @example const token = await newUserToken(c.env); // "rs_3q2-..."
 */
export async function newUserToken(env: Pick<Env, "TOKEN_SECRET" | "ADMIN_TOKEN">): Promise<string> {
  const random = crypto.getRandomValues(new Uint8Array(RANDOM_BYTES));
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await tokenKey(env), random));
  const bytes = new Uint8Array(random.length + mac.length);
  bytes.set(random);
  bytes.set(mac, random.length);
  return PREFIX + toText(bytes);
}

/**
 * Whether this server issued `token` (under its current secret). `crypto.subtle.verify`
 * compares MACs in constant time; the text must be the one encoding of its bytes, so no
 * second spelling of an issued token passes.
 */
export async function isIssuedToken(env: Pick<Env, "TOKEN_SECRET" | "ADMIN_TOKEN">, token: string): Promise<boolean> {
  if (!SHAPE.test(token)) return false;
  const text = token.slice(PREFIX.length);
  const bytes = decodeBase64Url(text);
  if (toText(bytes) !== text) return false;
  return crypto.subtle.verify("HMAC", await tokenKey(env), bytes.subarray(RANDOM_BYTES), bytes.subarray(0, RANDOM_BYTES));
}

/** The hex SHA-256 of a token: what the registry and the units keep instead of the token. */
export async function tokenHash(token: string): Promise<string> {
  const hex = await sha256(token);
  if (hex === null) throw new Error("Web Crypto (crypto.subtle) is not available in this runtime");
  return hex;
}
