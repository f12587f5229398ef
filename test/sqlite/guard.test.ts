/**
 * The check in front of every unit method (src/unit/guard.ts) on plain SQLite: the unit
 * must exist, a user's grant must cover the need, the queue's methods need the queue
 * enabled; a refused call runs nothing.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { ConfigStore } from "../../src/unit/config";
import { ADMIN, ADMIN_CALL, GrantStore } from "../../src/unit/grants";
import { unrouted } from "../../src/routing/router";
import { Guard } from "../../src/unit/guard";
import { migrate } from "../../src/unit/migrations";
import { memorySql } from "./sqlite";

let config: ConfigStore;
let grants: GrantStore;
let guard: Guard;
let ran: number;
const run = (unit: { name: string }) => {
  ran++;
  return { name: unit.name };
};
const reader = { kind: "user", tokenHash: "hash-r" } as const;
const writer = { kind: "user", tokenHash: "hash-w" } as const;
const stranger = { kind: "user", tokenHash: "hash-x" } as const;

beforeEach(() => {
  const { sql } = memorySql();
  migrate(sql);
  config = new ConfigStore(sql);
  grants = new GrantStore(sql);
  guard = new Guard({ config: () => config.get(), grants, settled: () => undefined });
  ran = 0;
});

function createUnit(reprocessingQueue = true): void {
  config.create("docs", true, reprocessingQueue);
  grants.set("ann", reader.tokenHash, "r");
  grants.set("bob", writer.tokenHash, "rw");
}

describe("a unit method's guard", () => {
  it("lets the admin and a user whose grant covers the need through, to the unit", () => {
    createUnit();
    expect(guard.withUnit(ADMIN_CALL, "write", run)).toEqual({ name: "docs" });
    expect(guard.withUnit(unrouted(reader), "read", run)).toEqual({ name: "docs" });
    expect(guard.withUnit(unrouted(writer), "write", run)).toEqual({ name: "docs" });
    expect(guard.withExisting(ADMIN_CALL, run)).toEqual({ name: "docs" });
    expect(ran).toBe(4);
  });

  it("refuses a user whose grant does not cover the need (FORBIDDEN) or who has none here (UNAUTHORIZED), running nothing", () => {
    createUnit();
    expect(guard.withUnit(unrouted(reader), "write", run)).toMatchObject({ error: "FORBIDDEN" });
    expect(guard.withUnit(unrouted(stranger), "read", run)).toMatchObject({ error: "UNAUTHORIZED" });
    expect(ran).toBe(0);
  });

  it("answers MOVED, with the layout to route by, to a call routed by another shard count, and runs nothing", () => {
    createUnit();
    const stale = { caller: ADMIN, layout: { shards: 8, splitTo: null } };
    expect(guard.withUnit(stale, "read", run)).toEqual({ error: "MOVED", detail: expect.any(String), layout: { shards: 1, splitTo: null } });
    expect(guard.withUnit({ caller: reader, layout: { shards: 2, splitTo: null } }, "read", run)).toMatchObject({ error: "MOVED" });
    expect(guard.withExisting(stale, run)).toMatchObject({ error: "MOVED" });
    // a user without the grant learns nothing of the layout
    expect(guard.withUnit({ caller: stranger, layout: { shards: 8, splitTo: null } }, "read", run)).toMatchObject({ error: "UNAUTHORIZED" });
    expect(guard.withUnit({ caller: ADMIN, layout: { shards: 1, splitTo: null } }, "read", run)).toEqual({ name: "docs" });
    // a caller one split step ahead of this shard is served: the shard has not heard of the step yet
    expect(guard.withUnit({ caller: ADMIN, layout: { shards: 1, splitTo: 4 } }, "read", run)).toEqual({ name: "docs" });
    expect(guard.withUnit({ caller: ADMIN, layout: { shards: 4, splitTo: null } }, "read", run)).toMatchObject({ error: "MOVED" });
    expect(ran).toBe(2);
  });

  it("serves the Worker's guess of one shard (no seed) at a seeded unit of one shard, and answers MOVED to it once the unit splits or to another seed", () => {
    const seeded = { shards: 1, splitTo: null, seed: "0123456789abcdef" };
    config.create("docs", true, true, 0, seeded);
    grants.set("ann", reader.tokenHash, "r");
    const guess = { shards: 1, splitTo: null };
    expect(guard.withUnit({ caller: ADMIN, layout: guess }, "read", run)).toEqual({ name: "docs" });
    expect(guard.withUnit({ caller: reader, layout: guess }, "read", run)).toEqual({ name: "docs" });
    expect(guard.withUnit({ caller: ADMIN, layout: seeded }, "read", run)).toEqual({ name: "docs" });
    // another incarnation's layout, even of one shard, learns the unit's
    expect(guard.withUnit({ caller: ADMIN, layout: { ...seeded, seed: "fedcba9876543210" } }, "read", run)).toEqual({
      error: "MOVED",
      detail: expect.any(String),
      layout: seeded,
    });
    config.update({ layout: { ...seeded, splitTo: 4 } });
    expect(guard.withUnit({ caller: ADMIN, layout: guess }, "read", run)).toMatchObject({
      error: "MOVED",
      layout: { shards: 1, splitTo: 4, seed: seeded.seed },
    });
    expect(ran).toBe(3);
  });

  it("tells the admin a unit does not exist, and a user only that the token is not valid", () => {
    expect(guard.withUnit(ADMIN_CALL, "read", run)).toMatchObject({ error: "STORAGE_UNIT_DOESNT_EXIST" });
    expect(guard.withExisting(ADMIN_CALL, run)).toMatchObject({ error: "STORAGE_UNIT_DOESNT_EXIST" });
    expect(guard.withUnit(unrouted(reader), "read", run)).toMatchObject({ error: "UNAUTHORIZED" });
    expect(ran).toBe(0);
  });

  it("refuses the queue's methods while the queue is disabled, after the access check", () => {
    createUnit(false);
    expect(guard.withQueue(unrouted(writer), "write", run)).toMatchObject({ error: "REPROCESSING_QUEUE_DISABLED" });
    expect(guard.withQueue(unrouted(reader), "write", run)).toMatchObject({ error: "FORBIDDEN" });
    expect(ran).toBe(0);
    config.update({ reprocessingQueue: true });
    expect(guard.withQueue(unrouted(writer), "write", run)).toEqual({ name: "docs" });
  });
});
