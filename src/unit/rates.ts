/**
 * Completions per second (API.md: `itemsPerSecond`): owns tables `throughput` (items
 * completed or failed for good, per run and second) and `rate_origins` (when each run's
 * current streak of completions began). Run 0 is the whole unit, every item counted,
 * whether of a run or not. Written once per batch; a read sums at most 61 rows.
 *
 * The rate is the items of the last 60 s over 60 s, or over the time since the streak's
 * first completion when that is more recent (a run 10 s old is not diluted over a minute);
 * a streak ends after 60 s without a completion. Invariant: rows older than the window are
 * dropped as new ones are written.
 */
import { round } from "./runs";
import type { Sql } from "./sql";

export const WINDOW_MS = 60_000;
/** The shortest span a rate is taken over: the first batch alone is not a rate. */
const MIN_SPAN_MS = 1000;
/** The unit as a whole, in `throughput`. */
export const UNIT = 0;

export class Rates {
  /** the second whose old rows were last dropped: once a second is enough */
  private prunedAt = 0;

  constructor(private readonly sql: Sql) {}

  /** Counts `n` items done at `now` for each run given (and the unit, run 0): two statements, whatever the runs. */
  record(counts: Map<number, number>, now = Date.now()): void {
    const second = Math.floor(now / 1000);
    const rows = JSON.stringify([...counts].filter(([, n]) => n > 0));
    if (rows === "[]") return;
    // `WHERE true` tells SQLite's parser that ON CONFLICT is the upsert's
    this.sql.exec(
      `INSERT INTO throughput (run, second, n) SELECT value ->> 0, ?, value ->> 1 FROM json_each(?) WHERE true
       ON CONFLICT (run, second) DO UPDATE SET n = n + excluded.n`,
      second,
      rows,
    );
    this.sql.exec(
      `INSERT INTO rate_origins (run, first_at, last_at) SELECT value ->> 0, ?, ? FROM json_each(?) WHERE true
       ON CONFLICT (run) DO UPDATE SET
         first_at = CASE WHEN last_at < excluded.last_at - ${WINDOW_MS} THEN excluded.first_at ELSE first_at END,
         last_at = excluded.last_at`,
      now,
      now,
      rows,
    );
    if (second === this.prunedAt) return;
    this.prunedAt = second;
    this.sql.exec("DELETE FROM throughput WHERE second < ?", Math.floor((now - WINDOW_MS) / 1000));
  }

  /** Items per second of a run (or the unit, {@link UNIT}) at `now`; 0 when idle. */
  perSecond(run: number, now = Date.now()): number {
    const origin = this.sql.first<{ first_at: number; last_at: number }>("SELECT first_at, last_at FROM rate_origins WHERE run = ?", run);
    if (!origin || origin.last_at < now - WINDOW_MS) return 0;
    const from = Math.max(now - WINDOW_MS, origin.first_at);
    const n =
      this.sql.first<{ n: number }>(
        "SELECT coalesce(sum(n), 0) AS n FROM throughput WHERE run = ? AND second >= ?",
        run,
        Math.floor((now - WINDOW_MS) / 1000),
      )?.n ?? 0;
    return round(n / (Math.max(now - from, MIN_SPAN_MS) / 1000));
  }

  /** Forgets the runs given (pruned from the run list). */
  forget(runs: number[]): void {
    if (runs.length === 0) return;
    const list = JSON.stringify(runs);
    this.sql.exec("DELETE FROM throughput WHERE run IN (SELECT value FROM json_each(?))", list);
    this.sql.exec("DELETE FROM rate_origins WHERE run IN (SELECT value FROM json_each(?))", list);
  }
}
