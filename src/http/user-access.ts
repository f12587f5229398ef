/**
 * Requests made with a user's token on a unit route. The grant is checked where the data
 * is: every unit method open to users takes the {@link Caller} and checks it against the
 * unit's own grants within the route's one call (no extra hop). Two cases add the check
 * before the route runs on: a route with a body asks the unit first (one more call), so
 * the body of a refused request is never read; and a route that fails on its input asks
 * it then, so a refusal wins over a 400. Only a refusal asks the registry, to tell a user
 * without the grant (403) from a token nobody holds any more (401).
 */
import { registryOf } from "../bindings";
import { shardedUnit } from "../shards/protocol";
import type { Env } from "../env";
import { ApiError, isFailure } from "../errors";
import type { Need, UserCaller } from "../unit/grants";

export interface UserRoute {
  /** the unit the route names: the one whose grant decides */
  unit: string;
  need: Need;
  /** the route reads a body: check the grant before it does */
  hasBody: boolean;
}

/**
 * Runs a route for a user's token and turns the unit's refusal into 401 / 403.
 * @example return withUserCaller(c.env, caller, { unit, need: "write", hasBody: true }, () => handler(c, input));
 */
export async function withUserCaller(env: Env, caller: UserCaller, route: UserRoute, run: () => Promise<Response>): Promise<Response> {
  const check = async () => {
    const result = await shardedUnit(env, route.unit).checkAccess(caller, route.need);
    if (!isFailure(result)) return;
    throw result.error === "UNAUTHORIZED" ? await noGrant(env, caller, route) : new ApiError(result.error, result.detail);
  };
  if (route.hasBody) await check();
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.code === "UNAUTHORIZED") throw await noGrant(env, caller, route);
    // an error about the input must not tell a caller without the grant anything
    if (!route.hasBody && (error.status === 400 || error.status === 413)) await check();
    throw error;
  }
}

/**
 * The error for a token that may not do what it asked: 403 when it is some user's
 * (`forbidden` says why), 401 when nobody holds it. Only refused requests ask the registry.
 */
export async function refusalFor(env: Env, tokenHash: string, forbidden: (user: string) => string): Promise<ApiError> {
  const user = await registryOf(env).userOfToken(tokenHash);
  return user === null ? unauthorized() : new ApiError("FORBIDDEN", forbidden(user));
}

export function unauthorized(): ApiError {
  return new ApiError("UNAUTHORIZED", "the token is not valid; check the Authorization header");
}

/** The unit holds no grant for the token: some user's without a grant there (403) or nobody's (401). */
function noGrant(env: Env, caller: UserCaller, route: UserRoute): Promise<ApiError> {
  const need = route.need === "read" ? "r" : "w";
  return refusalFor(
    env,
    caller.tokenHash,
    (user) =>
      `user '${user}' has no grant on storage unit '${route.unit}'; an admin can add one with PUT /security/add/${need}/${user}/${route.unit}`,
  );
}
