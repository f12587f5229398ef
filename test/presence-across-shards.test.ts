/**
 * The cron's list on a unit of several shards: the unit stays listed while any shard has
 * work, so an idle shard's visit does not take off the list a unit whose other shard is busy.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { registryOf } from "../src/bindings";
import { runCronTick } from "../src/cron";
import { call, createUnit } from "./helpers";
import { setPipelines, waitFor } from "./queue-helpers";

describe("the cron's list on a unit of 8 shards", () => {
  it("keeps the unit while one shard has work and the others are idle, and drops it once none has", async () => {
    const unit = await createUnit({ reprocessingQueue: true, shards: 8 });
    await setPipelines(unit, { raw: [{ module: "Noop", settings: {} }] });
    expect((await call("PUT", `/reprocess/pause/${unit}`)).status).toBe(200);
    expect((await call("PUT", `/transaction/add/${unit}/raw`, { key: "busy", content: { n: 1 } })).status).toBe(200);
    const registry = registryOf(env as never);
    await waitFor(async () => ((await registry.activeUnits()).includes(unit) ? true : undefined), `${unit} to be listed`);
    // every shard is visited: seven are idle and unlist themselves, the one holding "busy" is not
    await runCronTick(env as never, Date.now());
    expect(await registry.activeUnits()).toContain(unit);
    expect((await call("POST", `/reprocess/purge/${unit}`)).body).toEqual({ message: "OK", purged: 1 });
    await runCronTick(env as never, Date.now());
    expect(await registry.activeUnits()).not.toContain(unit);
  });
});
