/** GET /security/whoami (API.md, "Runs, progress and metrics"): who a token is and what it may do, for any valid token. */
import { describe, expect, it } from "vitest";
import { call, createUnit } from "./helpers";
import { createUser, grant, unknownToken } from "./security-helpers";

describe("GET /security/whoami", () => {
  it("tells the admin token it is the admin, with no user and no grants", async () => {
    const answer = await call("GET", "/security/whoami");
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ message: "OK", admin: true, user: null, grants: {} });
  });

  it("tells a user its name and its grants, and follows changes to them", async () => {
    const [reads, writes] = [await createUnit(), await createUnit()];
    const alice = await createUser();
    expect((await call("GET", "/security/whoami", undefined, { token: alice.token })).body).toEqual({
      message: "OK",
      admin: false,
      user: alice.name,
      grants: {},
    });
    await grant("r", alice.name, reads);
    await grant("rw", alice.name, writes);
    expect((await call("GET", "/security/whoami", undefined, { token: alice.token })).body).toEqual({
      message: "OK",
      admin: false,
      user: alice.name,
      grants: { [reads]: "r", [writes]: "rw" },
    });
    await call("DELETE", `/security/remove/${alice.name}/${writes}`);
    expect((await call("GET", "/security/whoami", undefined, { token: alice.token })).body.grants).toEqual({ [reads]: "r" });
  });

  it("answers 401 to a missing, made-up, rotated or removed token", async () => {
    const bob = await createUser();
    const rotated = await createUser(bob.name);
    const carol = await createUser();
    await call("DELETE", `/security/user/${carol.name}`);
    for (const token of [null, "not a token", unknownToken(), bob.token, carol.token]) {
      const answer = await call("GET", "/security/whoami", undefined, { token });
      expect(answer.status, String(token)).toBe(401);
      expect(answer.body.message).toBe("UNAUTHORIZED");
      expect(answer.body.detail).toMatch(/Authorization/);
    }
    expect((await call("GET", "/security/whoami", undefined, { token: rotated.token })).body.user).toBe(bob.name);
  });
});
