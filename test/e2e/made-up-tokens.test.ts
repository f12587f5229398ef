/**
 * What a made-up token costs the server: nothing. 300 requests with tokens this server
 * never issued, on unit names that do not exist (reads, writes with a body, a batch), are
 * refused with 401 and leave the data folder exactly as it was. On the self-hosted servers
 * so do a real user's requests on units that do not exist (403): their objects are only
 * read. (`wrangler dev` keeps a file for every object it instantiates, read or not; on
 * Cloudflare an object that stores nothing keeps nothing.) Needs the data folder: a server
 * the suite started.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { ok, target, uniqueUnit } from "./client";

const { dataDir, kind } = inject("e2e");

/**
 * Every file under the folder, with its path: what a request could have created. SQLite's
 * -wal, -shm and -journal files come and go with checkpoints of databases that exist anyway,
 * so they are left out.
 */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : /-(wal|shm|journal)$/.test(entry.name) ? [] : [join(dir, entry.name)],
  );
}

/** A token of the issued shape that this server never issued (random bytes where the MAC goes). */
function madeUpToken(): string {
  return `rs_${Buffer.from(crypto.getRandomValues(new Uint8Array(64))).toString("base64url")}`;
}

describe.skipIf(dataDir === null)("made-up tokens", () => {
  it("are refused with 401 and create nothing", async () => {
    const server = target();
    const unit = uniqueUnit("real");
    await ok(server.call("PUT", `/admin/createStorageUnit/${unit}`, {}));
    const before = filesUnder(dataDir!).sort();

    const statuses: Record<string, number> = {};
    const count = (status: number) => (statuses[status] = (statuses[status] ?? 0) + 1);
    for (let i = 0; i < 100; i++) {
      const ghost = `ghost-${i}-${Date.now().toString(36)}`;
      // the old shape of user tokens too: `rs_` and 43 characters
      const token = i % 2 === 0 ? madeUpToken() : `rs_${"A".repeat(43)}`;
      const requests: Array<[string, string, unknown]> = [
        ["GET", `/reprocess/status/${ghost}`, undefined],
        ["PUT", `/transaction/add/${ghost}/raw`, { key: "k", content: { i } }],
        ["POST", `/transaction/batch/${i % 3 === 0 ? unit : ghost}`, '{"action":"add","scope":"raw","key":"k","content":{}}\n'],
      ];
      for (const [method, path, body] of requests) count((await server.call(method, path, body, { token })).status);
    }
    expect(statuses).toEqual({ 401: 300 });
    expect(filesUnder(dataDir!).sort()).toEqual(before);
  });

  it.skipIf(kind === "wrangler")("nor does a real user on units that do not exist", async () => {
    const server = target();
    const unit = uniqueUnit("granted");
    await ok(server.call("PUT", `/admin/createStorageUnit/${unit}`, {}));
    const user = uniqueUnit("user");
    const { token } = await ok<{ token: string }>(server.call("PUT", `/security/user/${user}`));
    await ok(server.call("PUT", `/security/add/rw/${user}/${unit}`));
    const before = filesUnder(dataDir!).sort();
    for (let i = 0; i < 50; i++) {
      const ghost = `ghost-user-${i}-${Date.now().toString(36)}`;
      expect((await server.call("GET", `/access/fetch/${ghost}/k`, undefined, { token })).status).toBe(403);
      expect((await server.call("PUT", `/transaction/add/${ghost}/raw`, { key: "k", content: {} }, { token })).status).toBe(403);
    }
    expect(filesUnder(dataDir!).sort()).toEqual(before);
  });
});
