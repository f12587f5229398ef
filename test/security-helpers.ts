/** Test helpers for the Security API: users with tokens and grants, made through the HTTP API. */
import { expect } from "vitest";
import { call } from "./helpers";

export type Permission = "r" | "w" | "rw";

let counter = 0;
/** A fresh user name per call, so tests never share users. */
export function uniqueUser(prefix = "user"): string {
  return `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
}

/** Creates (or rotates) a user; returns its name and the token shown once. */
export async function createUser(name = uniqueUser()): Promise<{ name: string; token: string }> {
  const answer = await call("PUT", `/security/user/${name}`);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return { name, token: answer.body.token };
}

export async function grant(permission: Permission, user: string, unit: string): Promise<void> {
  const answer = await call("PUT", `/security/add/${permission}/${user}/${unit}`);
  expect(answer.body).toEqual({ message: "OK" });
}

/** A token of the issued shape (`rs_` + 86 base64url characters) that this server never issued: its MAC is wrong. */
export function unknownToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(64));
  return (
    "rs_" +
    btoa(String.fromCharCode(...bytes))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "")
  );
}
