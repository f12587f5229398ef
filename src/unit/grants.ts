/**
 * The unit's own copy of the grants on it (table `grants`: one row per user with the
 * SHA-256 hash of that user's token and its permission). The registry owns the user list
 * and pushes every change here, so a user's request is checked where the data is, with
 * no extra hop, and a revocation or rotation applies to the next request.
 *
 * Invariant: only users granted something on this unit have a row; a token whose hash is
 * not here is, for this unit, unknown (the caller asks the registry whether it is a user
 * at all, to answer 403 rather than 401).
 */
import { failure, type Failure } from "../errors";
import type { Sql } from "./sql";
import { unrouted, type RoutedCall } from "../routing/router";

/** A grant on one unit: read, write, or both. */
export type Permission = "r" | "w" | "rw";
/** What a route needs from a user token. */
export type Need = "read" | "write";

/** Whether `permission` covers `need` (API.md, "Security API"). */
export function covers(permission: Permission, need: Need): boolean {
  return need === "read" ? permission.includes("r") : permission.includes("w");
}

/**
 * Who makes a call to the unit, as the Worker's `authorize()` found: the admin token, or a
 * user's token (an issued one: its MAC was checked) by the SHA-256 hash the grants keep.
 * Every unit method open to users takes it first and names the access it needs there.
 */
export type Caller = AdminCaller | UserCaller;
export interface AdminCaller {
  kind: "admin";
}
export interface UserCaller {
  kind: "user";
  tokenHash: string;
}

/** The admin's caller, for code that acts with the admin token (routes of the admin API, tests). */
export const ADMIN: AdminCaller = { kind: "admin" };

/** The admin's call on one shard, routed by no layout: a shard's own calls to its siblings, tests on one object. */
export const ADMIN_CALL: RoutedCall<AdminCaller> = unrouted(ADMIN);

export class GrantStore {
  constructor(private readonly sql: Sql) {}

  /** Creates or replaces a user's grant (a rotation sends the same permission with the new hash). */
  set(user: string, tokenHash: string, permission: Permission): void {
    this.sql.exec(
      "INSERT INTO grants (user_name, token_hash, permission) VALUES (?, ?, ?) ON CONFLICT (user_name) DO UPDATE SET token_hash = excluded.token_hash, permission = excluded.permission",
      user,
      tokenHash,
      permission,
    );
  }

  /** Every grant here, as stored (a split gives them to the new shards). */
  all(): Array<{ user: string; tokenHash: string; permission: Permission }> {
    return this.sql.all<{ user: string; tokenHash: string; permission: Permission }>(
      "SELECT user_name AS user, token_hash AS tokenHash, permission FROM grants ORDER BY user_name",
    );
  }

  /** Returns whether the user had a grant here. */
  remove(user: string): boolean {
    return this.sql.run("DELETE FROM grants WHERE user_name = ?", user) > 0;
  }

  /**
   * Why a token may not do `need` here, or undefined when it may. UNAUTHORIZED means the
   * token has no grant on this unit (it may still be a user's: the caller decides 401/403).
   */
  refusal(tokenHash: string, need: Need, unit: string): Failure | undefined {
    const row = this.sql.first<{ user: string; permission: Permission }>(
      "SELECT user_name AS user, permission FROM grants WHERE token_hash = ?",
      tokenHash,
    );
    if (!row) return failure("UNAUTHORIZED", "the token is not valid for this storage unit; check the Authorization header");
    if (covers(row.permission, need)) return undefined;
    const wanted = need === "read" ? "r" : "w";
    return failure(
      "FORBIDDEN",
      `user '${row.user}' holds '${row.permission}' on storage unit '${unit}' and this route needs '${wanted}'; an admin can grant it with PUT /security/add/rw/${row.user}/${unit}`,
    );
  }
}
