/**
 * Requests made with a user's token on a unit route. The grant is checked where the data
 * is: every call the route makes to that unit goes through `StorageUnit.asUser`, which
 * checks the token hash against the unit's own grants and runs the call in the same hop.
 * Only a refused call asks the registry, to tell a user without the grant (403) from an
 * unknown token (401). A route that ends without calling the unit (an invalid body, a
 * batch with no valid line) checks the grant on its way out, so a refusal always wins.
 */
import type { Context } from "hono";
import type { Env } from "../env";
import { ApiError, isFailure } from "../errors";
import { registryOf } from "../registry/registry";
import type { Need } from "../unit/grants";
import type { StorageUnit } from "../unit/storage-unit";

interface UserCall {
  tokenHash: string;
  need: Need;
  /** the unit the route names: the one whose grant decides */
  unit: string;
  state: "pending" | "allowed" | "refused";
}

const userCalls = new WeakMap<Context, UserCall>();

/** Stub properties that are not RPC methods. */
const STUB_PROPERTIES = new Set(["id", "name"]);

/** Marks the request as a user's call on `unit`, to be checked by that unit. */
export function beginUserCall(c: Context, call: Omit<UserCall, "state">): void {
  userCalls.set(c, { ...call, state: "pending" });
}

/**
 * The stub a route uses for a unit. For the admin token it is the plain stub; for a user's
 * token every method call becomes `asUser(tokenHash, need, method, args)` and a refusal
 * is thrown as 401 / 403.
 */
export function guardUnit(c: Context<{ Bindings: Env }>, name: string, stub: DurableObjectStub<StorageUnit>): DurableObjectStub<StorageUnit> {
  const call = userCalls.get(c);
  if (!call) return stub;
  return new Proxy(stub, {
    get(target, property) {
      if (typeof property !== "string" || STUB_PROPERTIES.has(property)) return Reflect.get(target, property);
      // a stub is not a promise: keep `await` and Promise.resolve from calling "then" over RPC
      if (property === "then") return undefined;
      return async (...args: unknown[]) => {
        const result: unknown = await target.asUser(call.tokenHash, call.need, property, args);
        if (isFailure(result) && (result.error === "UNAUTHORIZED" || result.error === "FORBIDDEN")) {
          call.state = "refused";
          throw await refusal(c.env, call, name, result.error === "FORBIDDEN" ? result.detail : undefined);
        }
        if (name === call.unit) call.state = "allowed";
        return result;
      };
    },
  });
}

/** Checks the grant of a user's call that has not reached its unit yet; throws 401 / 403 when refused. */
export async function confirmUserCall(c: Context<{ Bindings: Env }>): Promise<void> {
  const call = userCalls.get(c);
  if (!call || call.state !== "pending") return;
  const result = await c.env.STORAGE_UNIT.get(c.env.STORAGE_UNIT.idFromName(call.unit)).checkAccess(call.tokenHash, call.need);
  if (!isFailure(result)) {
    call.state = "allowed";
    return;
  }
  call.state = "refused";
  throw await refusal(c.env, call, call.unit, result.error === "FORBIDDEN" ? result.detail : undefined);
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

/** The unit's FORBIDDEN stands; a token unknown to the unit is some user's without a grant there (403) or nobody's (401). */
async function refusal(env: Env, call: UserCall, unit: string, forbiddenByUnit: string | undefined): Promise<ApiError> {
  if (forbiddenByUnit !== undefined) return new ApiError("FORBIDDEN", forbiddenByUnit);
  const need = call.need === "read" ? "r" : "w";
  return refusalFor(env, call.tokenHash, (user) => `user '${user}' has no grant on storage unit '${unit}'; an admin can add one with PUT /security/add/${need}/${user}/${unit}`);
}
