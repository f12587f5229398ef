/**
 * `?keys=k1,k2` (API.md, "Conventions"): the raw query value is split on `,` and then each
 * part is percent-decoded, so `%2C` is a comma inside a key.
 */
import { z } from "@hono/zod-openapi";
import { ApiError } from "../errors";
import { Key } from "../schemas";
import { validate } from "./validate";

/** The `keys` query parameter of a route, each part validated as a key; 400 when it is missing or empty. */
export function keysFromQuery(c: { req: { url: string } }): string[] {
  const raw = new URL(c.req.url).searchParams.has("keys") ? rawQueryValue(c.req.url, "keys") : undefined;
  const keys = splitKeysQuery(raw);
  if (!keys) throw new ApiError("INVALID_REQUEST", "query.keys: give at least one key, e.g. ?keys=k1,k2");
  return validate(z.array(Key), keys, "query.keys");
}

/** Split on `,` first, then percent-decode each part. */
function splitKeysQuery(raw: string | undefined): string[] | undefined {
  if (raw === undefined || raw === "") return undefined;
  // every part decodes: a route's handler runs only after checkUrlEncoding (route.ts) accepted the
  // whole query parameter, and a literal comma never falls inside a percent-encoded character
  return raw.split(",").map((part) => decodeURIComponent(part));
}

function rawQueryValue(url: string, name: string): string | undefined {
  const query = url.split("?")[1]?.split("#")[0] ?? "";
  for (const pair of query.split("&")) {
    const [key, ...rest] = pair.split("=");
    if (key === name) return rest.join("=");
  }
  return undefined;
}
