/**
 * The cron trigger (`scheduled`): it re-arms a unit whose alarm was lost and runs the
 * `setReprocessSchedule` schedules at their minute; a unit with due work and no alarm
 * re-arms itself when it wakes.
 */
import {
  createExecutionContext,
  createScheduledController,
  evictDurableObject,
  runDurableObjectAlarm,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { registryOf } from "../src/bindings";
import { call, createUnit, unitStub } from "./helpers";
import { captureLogs } from "./support/logs";
import { addMany, drain, recorded, recorder, setPipelines, setSettings, status, waitFor, waitForStatus } from "./queue-helpers";

const MINUTE = 60_000;

/** Runs the Worker's scheduled handler as the platform would at `scheduledTime`, and waits for it. */
async function fireCron(scheduledTime: number): Promise<void> {
  const controller = createScheduledController({ scheduledTime, cron: "* * * * *" });
  const ctx = createExecutionContext();
  await worker.scheduled(controller, env as never, ctx);
  await waitOnExecutionContext(ctx);
}

function deleteAlarm(unit: string): Promise<void> {
  return runInDurableObject(unitStub(unit), (_instance, state) => state.storage.deleteAlarm());
}

/** A unit whose one item failed and waits an hour for its retry: due work, the alarm set far ahead. */
async function unitWaitingForRetry(): Promise<{ unit: string; retryAt: string }> {
  const unit = await createUnit({ reprocessingQueue: true, contentProcessing: false });
  await setPipelines(unit, { raw: [{ module: "Fault", settings: { failAll: true } }] });
  await setSettings(unit, { backoffMs: 3_600_000, maxBackoffMs: 3_600_000 });
  await addMany(unit, "raw", 1);
  await call("GET", `/reprocess/key/${unit}/k000000/raw`);
  const s = await waitForStatus(unit, (x) => x.pending === 1 && x.lastError !== null && x.nextRunAt !== null, "the first failure");
  expect(Date.parse(s.nextRunAt!)).toBeGreaterThan(Date.now() + 3_500_000);
  return { unit, retryAt: s.nextRunAt! };
}

/** Waits until the registry lists the unit among those the cron visits (the unit tells it without waiting). */
function listed(unit: string): Promise<true> {
  return waitFor(async () => ((await registryOf(env as never).activeUnits()).includes(unit) ? true : undefined), `${unit} to be listed active`);
}

/** Makes the unit's live instance reach a registry whose every call fails; returns how to undo it. */
async function breakRegistry(unit: string): Promise<() => Promise<void>> {
  const unavailable = { setActive: () => Promise.reject(new Error("registry unavailable")) };
  const broken = { getByName: () => unavailable };
  const original = await runInDurableObject(unitStub(unit), (instance) => {
    const holder = instance as unknown as { env: Record<string, unknown> };
    const env = holder.env;
    holder.env = new Proxy(env, { get: (target, name) => (name === "REGISTRY" ? broken : Reflect.get(target, name)) });
    return env;
  });
  return () =>
    runInDurableObject(unitStub(unit), (instance) => {
      (instance as unknown as { env: Record<string, unknown> }).env = original;
    });
}

describe("a lost alarm", () => {
  it("is re-armed by the cron handler", async () => {
    const { unit, retryAt } = await unitWaitingForRetry();
    await deleteAlarm(unit);
    expect((await status(unit)).nextRunAt).toBeNull();
    await fireCron(Date.now());
    expect(await status(unit)).toMatchObject({ nextRunAt: retryAt, pending: 1 });
  });

  it("is re-armed by the unit itself when it wakes with due work", async () => {
    const { unit, retryAt } = await unitWaitingForRetry();
    await deleteAlarm(unit);
    await evictDurableObject(unitStub(unit));
    expect((await status(unit)).nextRunAt).toBe(retryAt);
  });

  it("is not invented for a unit with nothing to do", async () => {
    const unit = await createUnit({ reprocessingQueue: true });
    await fireCron(Date.now());
    expect((await status(unit)).nextRunAt).toBeNull();
  });
});

describe("the registry's list of units to visit", () => {
  it("holds a unit while it has work and drops it once a visit finds it idle", async () => {
    const unit = await createUnit({ reprocessingQueue: true, contentProcessing: false });
    await setPipelines(unit, { raw: [] });
    await addMany(unit, "raw", 3);
    await call("GET", `/reprocess/all/${unit}/raw`);
    await listed(unit);
    await drain(unit);
    await fireCron(Date.now());
    expect(await registryOf(env as never).activeUnits()).not.toContain(unit);
    // new work lists it again
    await call("GET", `/reprocess/all/${unit}/raw`);
    await listed(unit);
  });

  it("a registry that fails does not fail the request; the unit's next alarm lists it", async () => {
    const unit = await createUnit({ reprocessingQueue: true, contentProcessing: false });
    await setPipelines(unit, { raw: [{ module: "Fault", settings: { failAll: true } }] });
    await setSettings(unit, { backoffMs: 3_600_000, maxBackoffMs: 3_600_000 });
    await addMany(unit, "raw", 1);
    const logs = captureLogs();
    const restore = await breakRegistry(unit);
    expect((await call("GET", `/reprocess/key/${unit}/k000000/raw`)).body).toEqual({ message: "OK" });
    // the first run fails the item: it waits an hour for its retry, with the registry still down
    await waitForStatus(unit, (x) => x.pending === 1 && x.lastError !== null, "the first failure");
    expect(await registryOf(env as never).activeUnits()).not.toContain(unit);
    expect(logs.of("registry-set-active-failed")[0]).toMatchObject({ unit, error: "Error: registry unavailable" });
    await restore();
    expect(await runDurableObjectAlarm(unitStub(unit))).toBe(true);
    await listed(unit);
  });
});

describe("schedules", () => {
  it("set with setReprocessSchedule, show their next run and fire at their minute", async () => {
    const unit = await createUnit({ reprocessingQueue: true, contentProcessing: false });
    await setPipelines(unit, { raw: [recorder(unit)] });
    await addMany(unit, "raw", 5);
    const set = await call("PUT", `/admin/setReprocessSchedule/${unit}`, { schedules: [{ scope: "raw", cron: "17 4 * * *" }] });
    expect(set.status).toBe(200);
    const nextRunAt: string = set.body.schedules[0].nextRunAt;
    const at = Date.parse(nextRunAt);
    expect(new Date(at).toISOString()).toMatch(/T04:17:00\.000Z$/);
    expect(at).toBeGreaterThan(Date.now());
    expect(at - Date.now()).toBeLessThanOrEqual(24 * 60 * MINUTE);
    expect((await call("GET", `/admin/getReprocessSchedule/${unit}`)).body).toEqual({
      message: "OK",
      schedules: [{ scope: "raw", cron: "17 4 * * *", nextRunAt }],
    });

    // the minute before: nothing runs
    await fireCron(at - MINUTE);
    expect(await drain(unit)).toMatchObject({ processed: 0 });
    expect(recorded(unit)).toEqual([]);

    // its minute: reprocess/all for the scope
    await fireCron(at);
    expect(await drain(unit)).toMatchObject({ processed: 5 });
    expect(
      recorded(unit, "process")
        .map((c) => c.key)
        .sort(),
    ).toEqual(["k000000", "k000001", "k000002", "k000003", "k000004"]);
    const after = await call("GET", `/admin/getReprocessSchedule/${unit}`);
    expect(after.body.schedules[0].nextRunAt).toBe(new Date(at + 24 * 60 * MINUTE).toISOString());

    // the same minute again (a repeated tick) does not run it twice
    await fireCron(at);
    expect(await drain(unit)).toMatchObject({ processed: 5 });
  });

  it("several schedules fire each at its own time", async () => {
    const unit = await createUnit({ reprocessingQueue: true, contentProcessing: false });
    await setPipelines(unit, { raw: [recorder(unit)], index: [recorder(unit)] });
    await addMany(unit, "raw", 2);
    await addMany(unit, "index", 3);
    const set = await call("PUT", `/admin/setReprocessSchedule/${unit}`, {
      schedules: [
        { scope: "raw", cron: "0 3 * * *" },
        { scope: "index", cron: "30 3 * * *" },
      ],
    });
    const [raw, index] = set.body.schedules.map((s: { nextRunAt: string }) => Date.parse(s.nextRunAt));
    expect(index - raw).toBe(30 * MINUTE);
    await fireCron(raw);
    await drain(unit);
    expect(recorded(unit, "process").map((c) => c.scope)).toEqual(["raw", "raw"]);
    await fireCron(index);
    expect(await drain(unit)).toMatchObject({ processed: 5 });
  });

  it("an empty list removes them", async () => {
    const unit = await createUnit({ reprocessingQueue: true });
    await setPipelines(unit, { raw: [{ module: "Noop", settings: {} }] });
    await call("PUT", `/admin/setReprocessSchedule/${unit}`, { schedules: [{ scope: "raw", cron: "0 3 * * *" }] });
    expect((await call("PUT", `/admin/setReprocessSchedule/${unit}`, { schedules: [] })).body).toEqual({ message: "OK", schedules: [] });
    expect((await call("GET", `/admin/getReprocessSchedule/${unit}`)).body).toEqual({ message: "OK", schedules: [] });
  });

  it("an invalid cron expression is 400 INVALID_REQUEST naming it, and nothing is stored", async () => {
    const unit = await createUnit({ reprocessingQueue: true });
    await setPipelines(unit, { raw: [{ module: "Noop", settings: {} }] });
    for (const cron of ["not a cron", "61 * * * *", "* * * * * *", "0 3 * *", "0 25 * * *"]) {
      const answer = await call("PUT", `/admin/setReprocessSchedule/${unit}`, {
        schedules: [
          { scope: "raw", cron: "0 3 * * *" },
          { scope: "raw", cron },
        ],
      });
      expect(answer.status, cron).toBe(400);
      expect(answer.body.message).toBe("INVALID_REQUEST");
      expect(answer.body.detail).toContain("schedules[1].cron");
    }
    expect((await call("GET", `/admin/getReprocessSchedule/${unit}`)).body.schedules).toEqual([]);
    const badScope = await call("PUT", `/admin/setReprocessSchedule/${unit}`, { schedules: [{ scope: "bad scope", cron: "0 3 * * *" }] });
    expect(badScope.status).toBe(400);
    expect((await call("PUT", `/admin/setReprocessSchedule/no-such-unit-x`, { schedules: [] })).status).toBe(404);
  });

  it("accept croner's nicknames: @daily runs at midnight UTC", async () => {
    const unit = await createUnit({ reprocessingQueue: true });
    await setPipelines(unit, { raw: [{ module: "Noop", settings: {} }] });
    const answer = await call("PUT", `/admin/setReprocessSchedule/${unit}`, { schedules: [{ scope: "raw", cron: "@daily" }] });
    expect(answer.status).toBe(200);
    expect(answer.body.schedules[0].nextRunAt).toMatch(/T00:00:00\.000Z$/);
  });

  it("on a scope without a pipeline are 400 INVALID_REQUEST saying to set one first, and nothing is stored", async () => {
    const unit = await createUnit({ reprocessingQueue: true });
    // an empty pipeline is no pipeline either
    await setPipelines(unit, { raw: [{ module: "Noop", settings: {} }], index: [] });
    for (const scope of ["index", "other"]) {
      const answer = await call("PUT", `/admin/setReprocessSchedule/${unit}`, {
        schedules: [
          { scope: "raw", cron: "0 3 * * *" },
          { scope, cron: "0 4 * * *" },
        ],
      });
      expect(answer.status, scope).toBe(400);
      expect(answer.body.message).toBe("INVALID_REQUEST");
      expect(answer.body.detail).toContain(`schedules[1].scope: scope '${scope}' has no pipeline`);
      expect(answer.body.detail).toContain(`setContentProcessingModules/${unit}`);
    }
    expect((await call("GET", `/admin/getReprocessSchedule/${unit}`)).body.schedules).toEqual([]);
  });

  it("outlive their pipeline: removing it keeps the schedule, whose run then completes its items with nothing to run", async () => {
    const unit = await createUnit({ reprocessingQueue: true, contentProcessing: false });
    await setPipelines(unit, { raw: [recorder(unit)] });
    await addMany(unit, "raw", 2);
    const set = await call("PUT", `/admin/setReprocessSchedule/${unit}`, { schedules: [{ scope: "raw", cron: "0 3 * * *" }] });
    await setPipelines(unit, {});
    expect((await call("GET", `/admin/getReprocessSchedule/${unit}`)).body.schedules).toHaveLength(1);
    await fireCron(Date.parse(set.body.schedules[0].nextRunAt));
    expect(await drain(unit)).toMatchObject({ processed: 2, failed: 0 });
    expect(recorded(unit)).toEqual([]);
  });
});
