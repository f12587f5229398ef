/**
 * How a secret (ADMIN_TOKEN, a module's authSecret) is set on the runtime this code runs
 * on: a Worker reads its secrets from wrangler, a self-hosted server (Node, Bun, Deno)
 * from its process environment. The same app serves both, so an answer that tells how to
 * set one asks which runtime it is on (Hono's `getRuntimeKey`, from `navigator.userAgent`).
 */
import { getRuntimeKey } from "hono/adapter";

/**
 * The instruction for setting the secret `name` here.
 * @example howToSetSecret("ADMIN_TOKEN") // on Workers: "set it with `wrangler secret put ADMIN_TOKEN` (or in .dev.vars locally)"
 */
export function howToSetSecret(name: string): string {
  if (getRuntimeKey() === "workerd") return `set it with \`wrangler secret put ${name}\` (or in .dev.vars locally)`;
  return `set the ${name} environment variable of the server process and restart it (e.g. \`${name}=... npm run serve:node\`)`;
}
