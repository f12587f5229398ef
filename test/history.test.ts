/**
 * GET /reprocess/history/<unit> (API.md, "Reprocess API") on units of 1 and 8 shards: one
 * point per minute, oldest first, what the job completed and failed summed over the shards,
 * the queue at the minute's end; `minutes` checked; grant `r`. Keeping 24 h and a quiet
 * minute's pending are tested on plain SQLite (test/sqlite/history.test.ts).
 */
import { describe, expect, it } from "vitest";
import { call, createUnit, ndjson } from "./helpers";
import { setPipelines, setSettings } from "./queue-helpers";
import { createUser, grant } from "./security-helpers";
import { drainShards } from "./support/shards";

type Point = { at: string; processed: number; failed: number; pending: number };
const total = (points: Point[], field: "processed" | "failed") => points.reduce((sum, point) => sum + point[field], 0);

async function history(unit: string, query = "", token?: string): Promise<Point[]> {
  const answer = await call("GET", `/reprocess/history/${unit}${query}`, undefined, { token });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  expect(answer.body.message).toBe("OK");
  return answer.body.points;
}

const KEYS = Array.from({ length: 40 }, (_, i) => `k${i}`);
const FAILING = ["k3", "k17", "k31"];

describe.each([1, 8])("the history of a unit of %i shard(s)", (shards) => {
  it("counts what the job did per minute and the queue at the minute's end, summed over the shards", async () => {
    const unit = await createUnit({ shards, reprocessingQueue: true, contentProcessing: false });
    await setPipelines(unit, { raw: [{ module: "Fault", settings: { failKeys: FAILING, error: "refused" } }] });
    await setSettings(unit, { maxAttempts: 1 });
    expect((await call("PUT", `/reprocess/pause/${unit}`)).status).toBe(200);
    const lines = KEYS.map((key) => ({ action: "add", scope: "raw", key, content: { key } }));
    expect((await call("POST", `/transaction/batch/${unit}`, ndjson(lines))).status).toBe(200);

    const quiet = await history(unit, "?minutes=5");
    expect(quiet).toHaveLength(5);
    expect(quiet.every((point) => point.processed === 0 && point.failed === 0 && point.pending === 0)).toBe(true);

    expect((await call("GET", `/reprocess/all/${unit}/raw`)).body.queued).toBe(KEYS.length);
    await drainShards(unit, shards);
    const held = await history(unit, "?minutes=5");
    expect(held.at(-1)!.pending).toBe(KEYS.length);
    expect(total(held, "processed")).toBe(0);

    expect((await call("PUT", `/reprocess/resume/${unit}`)).status).toBe(200);
    await drainShards(unit, shards);
    const points = await history(unit, "?minutes=5");
    expect(total(points, "processed")).toBe(KEYS.length - FAILING.length);
    expect(total(points, "failed")).toBe(FAILING.length);
    expect(points.at(-1)!.pending).toBe(0);
    // one point a minute, oldest first, the last the current minute
    const starts = points.map((point) => Date.parse(point.at));
    for (const [index, start] of starts.entries()) {
      expect(start % 60_000).toBe(0);
      if (index > 0) expect(start - starts[index - 1]!).toBe(60_000);
    }
    expect(Date.now() - starts.at(-1)!).toBeLessThan(120_000);
    // the default is an hour, 24 h the most
    expect(await history(unit)).toHaveLength(60);
    const day = await history(unit, "?minutes=1440");
    expect(day).toHaveLength(1440);
    expect(total(day, "processed")).toBe(KEYS.length - FAILING.length);
  });
});

describe("GET /reprocess/history refuses", () => {
  it.each(["0", "1441", "-5", "1.5", "an-hour", ""])("minutes=%s with 400 INVALID_REQUEST and how to fix it", async (minutes) => {
    const unit = await createUnit({ reprocessingQueue: true });
    const answer = await call("GET", `/reprocess/history/${unit}?minutes=${minutes}`);
    expect(answer.status, JSON.stringify(answer.body)).toBe(400);
    expect(answer.body.message).toBe("INVALID_REQUEST");
    expect(answer.body.detail).toContain("minutes");
  });

  it("a unit that does not exist with 404", async () => {
    const answer = await call("GET", "/reprocess/history/no-such-unit-here");
    expect(answer.status).toBe(404);
    expect(answer.body.message).toBe("STORAGE_UNIT_DOESNT_EXIST");
  });

  it("a user without `r` on the unit with 403, and answers one with it", async () => {
    const unit = await createUnit({ shards: 8, reprocessingQueue: true });
    const [reader, writer] = [await createUser(), await createUser()];
    await grant("r", reader.name, unit);
    await grant("w", writer.name, unit);
    expect(await history(unit, "?minutes=3", reader.token)).toHaveLength(3);
    const refused = await call("GET", `/reprocess/history/${unit}`, undefined, { token: writer.token });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toBe("FORBIDDEN");
  });
});
