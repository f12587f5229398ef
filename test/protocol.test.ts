/**
 * The shard protocol's table (src/shards/protocol.ts): every RPC method of the unit object
 * has a row, the Worker's unit offers exactly the routed ones, and a shard's own calls to
 * its siblings are not the Worker's to make.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { PROTOCOL, shardedUnit, type Protocol } from "../src/shards/protocol";
import { ADMIN } from "../src/unit/grants";
import { StorageUnit } from "../src/unit/storage-unit";
import { createUnit } from "./helpers";

/** The unit object's own methods, up its class chain to the platform's DurableObject. */
function objectMethods(): string[] {
  const names = new Set<string>();
  for (let proto = StorageUnit.prototype; proto && proto.constructor.name !== "DurableObject"; proto = Object.getPrototypeOf(proto))
    for (const name of Object.getOwnPropertyNames(proto))
      if (name !== "constructor" && typeof Object.getOwnPropertyDescriptor(proto, name)?.value === "function") names.add(name);
  return [...names].sort();
}

describe("the shard protocol's table", () => {
  it("names only methods of the unit object (that each has a row is the type check below)", () => {
    const methods = objectMethods();
    const rows = Object.keys(PROTOCOL);
    for (const row of rows) expect(methods).toContain(row);
    expect(rows).toEqual(expect.arrayContaining(["add", "status", "splitting", "readContents", "alarm"]));
  });

  it("makes a method missing from the table a type error", () => {
    const { getModules: _left, ...withoutOne } = PROTOCOL;
    // @ts-expect-error the object's getModules has no row
    const incomplete: Protocol = withoutOne;
    expect(Object.keys(incomplete)).not.toContain("getModules");
  });

  it("gives the Worker's unit every routed method, and none of the shards' calls to their siblings", async () => {
    const unit = shardedUnit(env, "any-unit") as unknown as Record<string, unknown>;
    for (const [method, route] of Object.entries(PROTOCOL)) {
      if (route.to === "siblings" || route.to === "platform") expect(unit[method], method).toBeUndefined();
      else expect(typeof unit[method], method).toBe("function");
    }
  });

  it("routes each kind of row on a unit of 8 shards: by key, by keys, shard 0, all shards and every shard merged", async () => {
    const name = await createUnit({ shards: 8, reprocessingQueue: true, contentProcessing: false });
    const unit = shardedUnit(env, name);
    expect(await unit.setModules(ADMIN, { modules: { raw: [{ module: "Noop", settings: {} }] }, settings: {} })).toEqual({ ok: true });
    for (let i = 0; i < 40; i++)
      expect(await unit.add(ADMIN, "raw", { key: `k${i}`, contentJson: JSON.stringify({ i }), policy: "overwrite" })).toEqual({ ok: true });
    expect(await unit.fetchRecord(ADMIN, "k7")).toMatchObject({ key: "k7" });
    expect(await unit.getModules(ADMIN)).toMatchObject({ modules: { raw: [{ module: "Noop" }] } });
    // paused, so that the queue holds what was queued when the status is read
    expect(await unit.setPaused(ADMIN, true)).toEqual({ ok: true });
    const queued = await unit.reprocessKeys(ADMIN, "raw", ["k1", "k2", "k1", "nope", "k39"]);
    expect(queued).toEqual({ queued: 3, missing: ["nope"] });
    const info = await unit.info(ADMIN);
    expect(info).toMatchObject({ records: 40, shards: 8 });
    const status = await unit.status(ADMIN);
    expect(status).toMatchObject({ pending: 3, paused: true });
  });
});
