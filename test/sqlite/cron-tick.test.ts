/**
 * The cron trigger's visit to one unit (src/unit/cron-tick.ts), on fakes: due schedules start
 * their fills and move to their next run, a lost alarm is re-armed (through the real alarm
 * cache, which must not believe it is still set), an idle unit is taken off the list.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { Alarm, type AlarmHost } from "../../src/unit/alarm";
import { CronTick } from "../../src/unit/cron-tick";
import type { ScheduleState } from "../../src/unit/schedules";

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** 2030-01-01T04:17:00Z: the minute of the `17 4 * * *` schedule */
const AT = Date.parse("2030-01-01T04:17:00.000Z");
/** when the fake job would next wake */
const NEXT_WAKE = AT + 5 * MINUTE;

/** The platform's alarm as a value, counting its writes. */
function fakeStorage() {
  const storage: AlarmHost & { alarm: number | null; writes: number } = {
    alarm: null as number | null,
    writes: 0,
    getAlarm: async () => storage.alarm,
    setAlarm: async (at: number) => {
      storage.alarm = at;
      storage.writes++;
    },
    deleteAlarm: async () => {
      storage.alarm = null;
      storage.writes++;
    },
  };
  return storage;
}

let storage: ReturnType<typeof fakeStorage>;
let alarm: Alarm;
let unit: { schedules: ScheduleState[] } | undefined;
let fills: string[];
let work: boolean;
let unlisted: number;
let tick: CronTick;

beforeEach(() => {
  storage = fakeStorage();
  alarm = new Alarm(storage);
  unit = { schedules: [] };
  fills = [];
  work = false;
  unlisted = 0;
  tick = new CronTick({
    unit: () => unit,
    saveSchedules: (schedules) => {
      unit = { schedules };
    },
    startRun: (scope) => {
      fills.push(scope);
      work = true;
    },
    hasWork: () => work,
    alarm,
    rearm: () => alarm.set(work ? NEXT_WAKE : null),
    presence: {
      unlist: async () => {
        unlisted++;
      },
    },
  });
});

describe("the cron's visit", () => {
  it("starts the fill of each due schedule and moves it to its next run; one not due waits", async () => {
    unit = {
      schedules: [
        { scope: "raw", cron: "17 4 * * *", nextRunAt: new Date(AT).toISOString() },
        { scope: "index", cron: "30 4 * * *", nextRunAt: new Date(AT + 13 * MINUTE).toISOString() },
      ],
    };
    expect(await tick.run(AT)).toEqual({ exists: true });
    expect(fills).toEqual(["raw"]);
    expect(unit?.schedules.map((s) => s.nextRunAt)).toEqual([new Date(AT + DAY).toISOString(), new Date(AT + 13 * MINUTE).toISOString()]);
    expect(storage.alarm).toBe(NEXT_WAKE);
  });

  it("runs a schedule once per due time: a repeated visit in the same minute starts nothing", async () => {
    unit = { schedules: [{ scope: "raw", cron: "17 4 * * *", nextRunAt: new Date(AT).toISOString() }] };
    await tick.run(AT);
    await tick.run(AT);
    await tick.run(AT + 30_000);
    expect(fills).toEqual(["raw"]);
  });

  it("re-arms a lost alarm, though this instance believes it set it", async () => {
    work = true;
    await alarm.set(NEXT_WAKE);
    storage.alarm = null; // lost outside this instance
    const writes = storage.writes;
    await tick.run(AT);
    expect(storage.alarm).toBe(NEXT_WAKE);
    expect(storage.writes).toBe(writes + 1);
  });

  it("leaves an alarm that is set alone, and invents none for a unit with nothing to do", async () => {
    work = true;
    await alarm.set(NEXT_WAKE);
    const writes = storage.writes;
    await tick.run(AT);
    expect(storage.writes).toBe(writes);
    work = false;
    storage.alarm = null;
    await tick.run(AT);
    expect(storage.alarm).toBeNull();
  });

  it("takes an idle unit off the list; one with work or schedules stays", async () => {
    work = true;
    await tick.run(AT);
    unit = { schedules: [{ scope: "raw", cron: "17 4 * * *", nextRunAt: new Date(AT + DAY).toISOString() }] };
    work = false;
    await tick.run(AT);
    expect(unlisted).toBe(0);
    unit = { schedules: [] };
    await tick.run(AT);
    expect(unlisted).toBe(1);
  });

  it("of a unit that does not exist touches nothing", async () => {
    unit = undefined;
    storage.alarm = AT;
    expect(await tick.run(AT)).toEqual({ exists: false });
    expect(storage.writes).toBe(0);
    expect(unlisted).toBe(0);
  });
});

describe("the alarm cache", () => {
  it("writes the alarm only when its time changes; clear() deletes it whatever it believes", async () => {
    await alarm.set(AT);
    await alarm.set(AT);
    expect(storage.writes).toBe(1);
    alarm.forget();
    await alarm.set(AT);
    expect(storage.writes).toBe(2);
    await alarm.set(null);
    await alarm.set(null);
    expect(storage.writes).toBe(3);
    await alarm.clear();
    expect(storage.writes).toBe(4);
    expect(await alarm.stored()).toBeNull();
  });
});
