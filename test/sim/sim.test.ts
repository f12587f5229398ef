/**
 * The simulation's own guarantees: a seed replays step for step, another seed gives another
 * schedule, and a broken invariant is caught. The seeds themselves run in seeds-*.test.ts.
 */
import { describe, expect, it } from "vitest";
import { rowsOnOwners, writesKept } from "./checks";
import { Clients } from "./clients";
import { runSeed } from "./run";
import { scenario } from "./scenarios";
import { World } from "./world";

describe("the simulation itself", () => {
  it("replays a seed step for step, crashes included", async () => {
    const chosen = scenario("writes");
    const seed = 7;
    const first = await runSeed(seed, chosen);
    const again = await runSeed(seed, chosen);
    expect(first.crashes).toBeGreaterThan(0);
    expect(again.trace).toEqual(first.trace);
  });

  it("gives another schedule for another seed", async () => {
    const [a, b] = [await runSeed(3, scenario("writes")), await runSeed(5, scenario("writes"))];
    expect(a.trace).not.toEqual(b.trace.map((line) => line.replaceAll(b.unit, a.unit)));
  });

  it("finds a record on a shard that does not own it, and a lost acknowledged write", async () => {
    const world = new World(1, `${process.env.TMPDIR ?? "/tmp"}/restage-sim-check-${process.pid}`);
    const clients = new Clients(world, "u-check");
    let done = false;
    const work = (async () => {
      await clients.create(2);
      await clients.add("books", "k1", { title: "one" });
      done = true;
    })();
    await world.scheduler.run(() => done, { maxSteps: 10_000, settleMs: 1_000 });
    await work;
    expect(rowsOnOwners(world, "u-check")).toEqual([]);
    expect(writesKept(world, "u-check", clients.model)).toEqual([]);
    // the row moves to the other shard, as a split that lost track of it would leave it
    const [owner, other] = world.shardDb("u-check", 0)?.prepare("SELECT 1 FROM records WHERE key = 'k1'").get() ? [0, 1] : [1, 0];
    const row = world.shardDb("u-check", owner)!.prepare("SELECT * FROM records WHERE key = 'k1'").get() as {
      key: string;
      scope: string;
      content: string;
      version: number;
      updated_at: number;
    };
    world.shardDb("u-check", owner)!.prepare("DELETE FROM records WHERE key = 'k1'").run();
    world
      .shardDb("u-check", other)!
      .prepare("INSERT INTO records (key, scope, content, version, updated_at) VALUES (?, ?, ?, ?, ?)")
      .run(row.key, row.scope, row.content, row.version, row.updated_at);
    expect(rowsOnOwners(world, "u-check")).toEqual([`records row of 'k1' on shard ${other}; its owner is shard ${owner} of 2`]);
    expect(writesKept(world, "u-check", clients.model)[0]).toMatch(/^acknowledged write lost: books\/k1 holds ∅/);
    world.close();
  });
});
