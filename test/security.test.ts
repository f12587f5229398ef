import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, createUnit, unitStub, uniqueUnit } from "./helpers";
import { createUser, grant, uniqueUser, unknownToken } from "./security-helpers";

/** One read and one write on the unit with this token: their statuses. */
async function readWrite(unit: string, token: string): Promise<[number, number]> {
  const read = await call("GET", `/access/fetch/${unit}/k1`, undefined, { token });
  const write = await call("PUT", `/transaction/add/${unit}/raw`, { key: "k1", content: { by: "user" } }, { token });
  return [read.status, write.status];
}

function registry() {
  return env.REGISTRY.get(env.REGISTRY.idFromName("registry"));
}

describe("Security API: users and tokens", () => {
  it("creates a user with a random token shown once and lists users without tokens", async () => {
    const alice = await createUser();
    expect(alice.token).toMatch(/^rs_[A-Za-z0-9_-]{86}$/);
    const bob = await createUser();
    expect(bob.token).not.toBe(alice.token);
    const users = await call("GET", "/security/users");
    expect(users.status).toBe(200);
    expect(users.body.users).toContainEqual({ name: alice.name, grants: {} });
    expect(JSON.stringify(users.body)).not.toContain(alice.token);
    expect(JSON.stringify(users.body)).not.toContain(alice.token.slice(3));
  });

  it("stores only the SHA-256 hash of a token, in the registry and in the unit", async () => {
    const unit = await createUnit();
    const alice = await createUser();
    await grant("r", alice.name, unit);
    const digest = [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(alice.token)))]
      .map((b) => b.toString(16).padStart(2, "0"))
      .join("");
    const registryDump = await runInDurableObject(registry(), async (_instance, state) => dumpDatabase(state));
    const unitDump = await runInDurableObject(unitStub(unit), async (_instance, state) => dumpDatabase(state));
    for (const dump of [registryDump, unitDump]) {
      expect(dump).toContain(digest);
      expect(dump).not.toContain(alice.token.slice(3));
    }
  });

  it("rotates the token when the user is created again: the old one stops working, grants stay", async () => {
    const unit = await createUnit();
    const first = await createUser();
    await grant("rw", first.name, unit);
    expect(await readWrite(unit, first.token)).toEqual([404, 200]);
    const second = await createUser(first.name);
    expect(second.token).not.toBe(first.token);
    expect(await readWrite(unit, first.token)).toEqual([401, 401]);
    expect(await readWrite(unit, second.token)).toEqual([200, 200]);
    expect((await call("GET", "/security/users")).body.users).toContainEqual({ name: first.name, grants: { [unit]: "rw" } });
  });

  it("deletes a user with its token and grants", async () => {
    const unit = await createUnit();
    const alice = await createUser();
    await grant("rw", alice.name, unit);
    expect((await call("DELETE", `/security/user/${alice.name}`)).body).toEqual({ message: "OK" });
    expect(await readWrite(unit, alice.token)).toEqual([401, 401]);
    expect((await call("GET", "/security/users")).body.users.map((u: { name: string }) => u.name)).not.toContain(alice.name);
    const again = await call("DELETE", `/security/user/${alice.name}`);
    expect(again.status).toBe(404);
    expect(again.body.message).toBe("USER_NOT_FOUND");
    // created again, the user starts with no grant
    const back = await createUser(alice.name);
    expect(await readWrite(unit, back.token)).toEqual([403, 403]);
  });
});

describe("Security API: grants", () => {
  it("r reads, w writes, rw does both; no grant is 403 and an unknown token 401", async () => {
    const unit = await createUnit();
    const [none, reader, writer, both] = await Promise.all([createUser(), createUser(), createUser(), createUser()]);
    await grant("r", reader.name, unit);
    await grant("w", writer.name, unit);
    await grant("rw", both.name, unit);
    expect(await readWrite(unit, none.token)).toEqual([403, 403]);
    expect(await readWrite(unit, reader.token)).toEqual([404, 403]);
    expect(await readWrite(unit, writer.token)).toEqual([403, 200]);
    expect(await readWrite(unit, both.token)).toEqual([200, 200]);
    expect(await readWrite(unit, unknownToken())).toEqual([401, 401]);
    expect(await readWrite(unit, "not-a-token")).toEqual([401, 401]);
    const forbidden = await call("GET", `/access/fetch/${unit}/k1`, undefined, { token: writer.token });
    expect(forbidden.body.message).toBe("FORBIDDEN");
    expect(forbidden.body.detail).toContain(`/security/add/rw/${writer.name}/${unit}`);
  });

  it("a grant on one unit gives nothing on another", async () => {
    const [mine, other] = await Promise.all([createUnit(), createUnit()]);
    const alice = await createUser();
    await grant("rw", alice.name, mine);
    expect(await readWrite(other, alice.token)).toEqual([403, 403]);
    const missing = await call("GET", `/access/fetch/${uniqueUnit()}/k1`, undefined, { token: alice.token });
    expect(missing.status).toBe(403);
  });

  it("a new grant replaces the old one and a revocation applies to the next request", async () => {
    const unit = await createUnit();
    const alice = await createUser();
    await grant("rw", alice.name, unit);
    expect(await readWrite(unit, alice.token)).toEqual([404, 200]);
    await grant("r", alice.name, unit);
    expect(await readWrite(unit, alice.token)).toEqual([200, 403]);
    expect((await call("DELETE", `/security/remove/${alice.name}/${unit}`)).body).toEqual({ message: "OK" });
    expect(await readWrite(unit, alice.token)).toEqual([403, 403]);
    expect((await call("GET", "/security/users")).body.users).toContainEqual({ name: alice.name, grants: {} });
    // revoking what is not granted is fine
    expect((await call("DELETE", `/security/remove/${alice.name}/${unit}`)).status).toBe(200);
  });

  it("grants through the GET form too", async () => {
    const unit = await createUnit();
    const alice = await createUser();
    expect((await call("GET", `/security/add/w/${alice.name}/${unit}`)).body).toEqual({ message: "OK" });
    expect(await readWrite(unit, alice.token)).toEqual([403, 200]);
  });

  it("refuses grants for unknown users, unknown units and unknown permissions", async () => {
    const unit = await createUnit();
    const alice = await createUser();
    const noUser = await call("PUT", `/security/add/r/${uniqueUser()}/${unit}`);
    expect(noUser.status).toBe(404);
    expect(noUser.body.message).toBe("USER_NOT_FOUND");
    const noUnit = await call("PUT", `/security/add/r/${alice.name}/${uniqueUnit()}`);
    expect(noUnit.status).toBe(404);
    expect(noUnit.body.message).toBe("STORAGE_UNIT_DOESNT_EXIST");
    const badPermission = await call("PUT", `/security/add/x/${alice.name}/${unit}`);
    expect(badPermission.status).toBe(400);
    expect(badPermission.body.detail).toContain("permission");
    const removeNoUser = await call("DELETE", `/security/remove/${uniqueUser()}/${unit}`);
    expect(removeNoUser.body.message).toBe("USER_NOT_FOUND");
    const removeNoUnit = await call("DELETE", `/security/remove/${alice.name}/${uniqueUnit()}`);
    expect(removeNoUnit.body.message).toBe("STORAGE_UNIT_DOESNT_EXIST");
    expect((await call("GET", "/security/users")).body.users).toContainEqual({ name: alice.name, grants: {} });
  });

  it("deleting a unit drops its grants, so a unit created again under that name grants nothing", async () => {
    const unit = await createUnit();
    const alice = await createUser();
    await grant("rw", alice.name, unit);
    expect((await call("DELETE", `/admin/deleteStorageUnit/${unit}`)).status).toBe(200);
    expect((await call("GET", "/security/users")).body.users).toContainEqual({ name: alice.name, grants: {} });
    await createUnit({}, unit);
    expect(await readWrite(unit, alice.token)).toEqual([403, 403]);
  });
});

describe("user tokens on guarded routes", () => {
  it("admin and security routes refuse a user's token with 403 and an unknown one with 401", async () => {
    const unit = await createUnit();
    const alice = await createUser();
    await grant("rw", alice.name, unit);
    for (const [method, path] of [
      ["GET", "/admin/listStorageUnits"],
      ["GET", `/admin/getStorageUnit/${unit}`],
      ["DELETE", `/admin/deleteStorageUnit/${unit}`],
      ["GET", "/security/users"],
      ["PUT", `/security/user/${alice.name}`],
      ["PUT", `/security/add/rw/${alice.name}/${unit}`],
    ] as const) {
      const asUser = await call(method, path, undefined, { token: alice.token });
      expect(asUser.status, `${method} ${path}`).toBe(403);
      expect(asUser.body.detail).toContain("admin token");
      expect((await call(method, path, undefined, { token: unknownToken() })).status).toBe(401);
    }
    // the refused rotation and deletion did not happen
    expect(await readWrite(unit, alice.token)).toEqual([404, 200]);
  });

  it("a refusal wins over a bad body, and a batch with no valid line still needs the grant", async () => {
    const unit = await createUnit();
    const [alice, reader] = await Promise.all([createUser(), createUser()]);
    await grant("r", reader.name, unit);
    const badBody = await call("PUT", `/transaction/add/${unit}/raw`, { key: "" }, { token: alice.token });
    expect(badBody.status).toBe(403);
    const junk = "not json\n{]";
    expect((await call("POST", `/transaction/batch/${unit}`, junk, { token: alice.token })).status).toBe(403);
    expect((await call("POST", `/transaction/batch/${unit}`, junk, { token: reader.token })).status).toBe(403);
    expect((await call("POST", `/transaction/batch/${unit}`, junk, { token: unknownToken() })).status).toBe(401);
    const admin = await call("POST", `/transaction/batch/${unit}`, junk);
    expect(admin.body.message).toBe("COMPLETED_WITH_ERRORS");
  });

  it("a user may write and read through every data route its grant covers", async () => {
    const unit = await createUnit({ reprocessingQueue: true });
    await call("POST", `/admin/setContentProcessingModules/${unit}`, { modules: { raw: [] } });
    const alice = await createUser();
    await grant("rw", alice.name, unit);
    const as = { token: alice.token };
    expect((await call("POST", `/transaction/batch/${unit}`, '{"action":"add","scope":"raw","key":"a","content":{}}\n', as)).body).toEqual({
      message: "OK",
      count: 1,
    });
    expect((await call("GET", `/access/fetchMultiple/${unit}?keys=a`, undefined, as)).body.records).toHaveLength(1);
    expect((await call("POST", `/reprocess/keys/${unit}/raw`, { keys: ["a"] }, as)).body).toMatchObject({ message: "OK", queued: 1 });
    expect((await call("GET", `/reprocess/status/${unit}`, undefined, as)).body.pending).toBe(1);
  });
});

/** Every text value of every table of a Durable Object's database, for looking for secrets. */
function dumpDatabase(state: DurableObjectState): string {
  const tables = state.storage.sql
    .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'")
    .toArray();
  return JSON.stringify(tables.map(({ name }) => state.storage.sql.exec(`SELECT * FROM "${name}"`).toArray()));
}
