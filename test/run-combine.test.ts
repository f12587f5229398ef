/** A run's shares on several shards make one run (src/unit/runs.ts, `combineRuns`). */
import { describe, expect, it } from "vitest";
import { combineRunLists, combineRuns, etaSeconds, type RunPart } from "../src/unit/runs";

const part = (fields: Partial<RunPart>): RunPart => ({
  id: "r1",
  scope: "raw",
  prefix: null,
  since: null,
  trigger: "api",
  state: "running",
  total: 0,
  processed: 0,
  failed: 0,
  startedAt: "2026-11-28T10:00:00.000Z",
  finishedAt: null,
  itemsPerSecond: 0,
  open: 0,
  unfilled: 0,
  ...fields,
});

describe("combineRuns", () => {
  it("sums counts and rates, takes the earliest start, and an ETA from the sums", () => {
    const run = combineRuns([
      part({ total: 100, processed: 40, failed: 1, itemsPerSecond: 10, open: 59, startedAt: "2026-11-28T10:00:02.000Z" }),
      part({ state: "filling", total: 300, processed: 20, itemsPerSecond: 20.5, open: 80, unfilled: 200, startedAt: "2026-11-28T10:00:01.000Z" }),
      part({ state: "done", total: 0, startedAt: "2026-11-28T10:00:01.200Z", finishedAt: "2026-11-28T10:00:01.500Z" }),
    ]);
    expect(run).toEqual({
      id: "r1",
      scope: "raw",
      prefix: null,
      since: null,
      trigger: "api",
      state: "filling",
      total: 400,
      processed: 60,
      failed: 1,
      startedAt: "2026-11-28T10:00:01.000Z",
      finishedAt: null,
      itemsPerSecond: 30.5,
      etaSeconds: Math.ceil((59 + 80 + 200) / 30.5),
    });
  });

  it("derives the state of the whole: filling, then running, done when all are, with the latest finish", () => {
    const done = (finishedAt: string) => part({ state: "done", finishedAt });
    expect(combineRuns([part({ state: "running" }), part({ state: "filling" })]).state).toBe("filling");
    expect(combineRuns([part({ state: "running" }), done("2026-11-28T10:01:00.000Z")]).state).toBe("running");
    expect(combineRuns([part({ state: "running" }), done("2026-11-28T10:01:00.000Z")]).finishedAt).toBeNull();
    const all = combineRuns([done("2026-11-28T10:01:00.000Z"), done("2026-11-28T10:03:00.000Z"), done("2026-11-28T10:02:00.000Z")]);
    expect(all).toMatchObject({ state: "done", finishedAt: "2026-11-28T10:03:00.000Z", etaSeconds: null });
  });

  it("keeps a cancel or a replacement recorded on any shard", () => {
    const cancelled = part({ state: "cancelled", finishedAt: "2026-11-28T10:05:00.000Z", open: 3, itemsPerSecond: 5 });
    expect(combineRuns([part({ state: "done", finishedAt: "2026-11-28T10:04:00.000Z" }), cancelled])).toMatchObject({
      state: "cancelled",
      finishedAt: "2026-11-28T10:05:00.000Z",
      etaSeconds: null,
    });
    expect(combineRuns([part({ state: "replaced", finishedAt: "2026-11-28T10:05:00.000Z" }), part({ state: "filling" })]).state).toBe("replaced");
  });

  it("groups the shards' lists by run id, newest first, up to the limit", () => {
    const a = (startedAt: string, id: string) => part({ id, startedAt, total: 1 });
    const runs = combineRunLists(
      [
        [a("2026-11-28T10:02:00.000Z", "new"), a("2026-11-28T10:00:00.000Z", "old")],
        [a("2026-11-28T10:01:00.000Z", "mid"), a("2026-11-28T10:00:00.500Z", "old")],
      ],
      2,
    );
    expect(runs.map((run) => [run.id, run.total])).toEqual([
      ["new", 1],
      ["mid", 1],
    ]);
    expect(combineRunLists([[a("2026-11-28T10:00:00.000Z", "old")], [a("2026-11-28T10:00:00.500Z", "old")]], 5)[0]!.total).toBe(2);
  });

  it("has no ETA without a rate or with nothing left", () => {
    expect(etaSeconds(100, 0)).toBeNull();
    expect(etaSeconds(0, 10)).toBeNull();
    expect(etaSeconds(101, 10)).toBe(11);
  });
});
