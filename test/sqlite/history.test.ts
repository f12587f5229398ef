/**
 * The queue's history per minute (src/unit/history.ts) on plain SQLite, the clock passed in:
 * a quiet minute keeps the pending of the last minute that moved, and rows older than 24 h
 * go, all but the one a window opening after them starts from.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { History, KEPT_MINUTES } from "../../src/unit/history";
import { migrate } from "../../src/unit/migrations";
import type { Sql } from "../../src/unit/sql";
import { memorySql } from "./sqlite";

const MINUTE = 60_000;
/** a minute's start, far from 0 */
const T0 = 29_000_000 * MINUTE;

let sql: Sql;
let history: History;

beforeEach(() => {
  sql = memorySql().sql;
  migrate(sql);
  history = new History(sql);
});

const setPending = (n: number) => sql.exec("UPDATE queue_counts SET n = ? WHERE state = 0", n);

describe("the queue's history", () => {
  it("sums a minute's items, keeps its last pending, and carries it over quiet minutes", () => {
    setPending(10);
    history.note(0, 0, T0 + 1_000);
    setPending(7);
    history.note(2, 1, T0 + 30_000);
    setPending(4);
    history.note(3, 0, T0 + 2 * MINUTE + 5_000);
    const points = history.points(5, 4, T0 + 4 * MINUTE);
    expect(points).toEqual([
      { at: new Date(T0).toISOString(), processed: 2, failed: 1, pending: 7 },
      { at: new Date(T0 + MINUTE).toISOString(), processed: 0, failed: 0, pending: 7 },
      { at: new Date(T0 + 2 * MINUTE).toISOString(), processed: 3, failed: 0, pending: 4 },
      { at: new Date(T0 + 3 * MINUTE).toISOString(), processed: 0, failed: 0, pending: 4 },
      { at: new Date(T0 + 4 * MINUTE).toISOString(), processed: 0, failed: 0, pending: 4 },
    ]);
  });

  it("answers the current pending throughout when nothing moved in the window or before", () => {
    expect(history.points(3, 12, T0).map((point) => point.pending)).toEqual([12, 12, 12]);
  });

  it("drops rows older than 24 h but the newest of them, which still gives the pending after it", () => {
    setPending(5);
    history.note(1, 0, T0);
    setPending(6);
    history.note(1, 0, T0 + MINUTE);
    const later = T0 + (KEPT_MINUTES + 10) * MINUTE;
    setPending(6);
    history.note(0, 0, later);
    const minutes = sql.all<{ minute: number }>("SELECT minute FROM history ORDER BY minute").map((row) => row.minute);
    expect(minutes).toEqual([T0 / MINUTE + 1, later / MINUTE]);
    const day = history.points(KEPT_MINUTES, 6, later);
    expect(day).toHaveLength(KEPT_MINUTES);
    expect(day.every((point) => point.pending === 6)).toBe(true);
    expect(day.reduce((sum, point) => sum + point.processed, 0)).toBe(0);
  });
});
