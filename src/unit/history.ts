/**
 * The queue's history per minute (API.md: `GET /reprocess/history`): owns table `history`,
 * one row per minute in which the queue changed: items completed and failed for good in that
 * minute, and the items pending at its end. Written by the queue's counters
 * (queue-counters.ts) in the same step as every queue change, so a minute without a row is a
 * minute in which nothing moved: its pending is the last row's before it.
 *
 * Invariant: rows older than {@link KEPT_MINUTES} are dropped as new ones are written, all but
 * the newest of them, which stays as the pending a window opening after it starts from.
 */
import type { Sql } from "./sql";

/** 24 h of minutes: the most a window asks for, and what is kept. */
export const KEPT_MINUTES = 1440;
const MINUTE_MS = 60_000;

export interface HistoryPoint {
  /** the minute's start, ISO */
  at: string;
  processed: number;
  failed: number;
  pending: number;
}

export class History {
  /** the minute whose old rows were last dropped: once a minute is enough */
  private prunedAt = 0;

  constructor(private readonly sql: Sql) {}

  /** `processed` and `failed` items done now; the queue's pending is read from its counters, as just written. */
  note(processed: number, failed: number, now = Date.now()): void {
    const minute = Math.floor(now / MINUTE_MS);
    // `WHERE true` tells SQLite's parser that ON CONFLICT is the upsert's
    this.sql.exec(
      `INSERT INTO history (minute, processed, failed, pending)
       SELECT ?, ?, ?, coalesce((SELECT n FROM queue_counts WHERE state = 0), 0) WHERE true
       ON CONFLICT (minute) DO UPDATE SET
         processed = processed + excluded.processed, failed = failed + excluded.failed, pending = excluded.pending`,
      minute,
      processed,
      failed,
    );
    if (minute === this.prunedAt) return;
    this.prunedAt = minute;
    const cutoff = minute - KEPT_MINUTES;
    this.sql.exec("DELETE FROM history WHERE minute < ? AND minute < (SELECT max(minute) FROM history WHERE minute < ?)", cutoff, cutoff);
  }

  /**
   * The last `minutes` minutes up to the one holding `now`, oldest first, one point each.
   * `pending` of a minute without a row is the row's before it; before any row, `current`
   * (nothing has moved since the window opened).
   */
  points(minutes: number, current: number, now = Date.now()): HistoryPoint[] {
    const last = Math.floor(now / MINUTE_MS);
    const first = last - minutes + 1;
    const rows = this.sql.all<{ minute: number; processed: number; failed: number; pending: number }>(
      "SELECT minute, processed, failed, pending FROM history WHERE minute >= ? AND minute <= ? ORDER BY minute",
      first,
      last,
    );
    const before = this.sql.first<{ pending: number }>("SELECT pending FROM history WHERE minute < ? ORDER BY minute DESC LIMIT 1", first);
    let pending = before?.pending ?? rows[0]?.pending ?? current;
    const byMinute = new Map(rows.map((row) => [row.minute, row]));
    return Array.from({ length: minutes }, (_, index) => {
      const minute = first + index;
      const row = byMinute.get(minute);
      if (row) pending = row.pending;
      return { at: new Date(minute * MINUTE_MS).toISOString(), processed: row?.processed ?? 0, failed: row?.failed ?? 0, pending };
    });
  }
}
