/**
 * The queue's counters: owns table `queue_counts` (items per state) and the `open`,
 * `processed` and `failed` columns of `runs` (run-store.ts), and writes the minute's line of
 * the queue's history (history.ts). The queue (queue.ts) tallies what each transition did
 * and writes the tally here in the same synchronous step, so a status, a run, a metrics or a
 * history read never counts the queue.
 *
 * Invariants: `queue_counts` holds, per state, the number of queue rows in that state;
 * a run's `open` is the number of its rows pending or assigned; a run's `processed` and
 * `failed` only grow. A row belongs to at most one run (`queue.run`, NULL for none).
 */
import { History } from "./history";
import type { Sql } from "./sql";

export interface QueueCounts {
  pending: number;
  assigned: number;
  failed: number;
}

/** What one run's items did in one step. */
export interface RunDelta {
  open: number;
  processed: number;
  failed: number;
}

/** Items that left the queue as processed or failed for good, by run (0: items of no run). */
export type Finished = Map<number, { processed: number; failed: number }>;

/** The changes of one queue operation, gathered as it runs and written once. */
export class Tally {
  /** per state (0 pending, 1 assigned, 2 failed) */
  readonly states = [0, 0, 0];
  readonly runs = new Map<number, RunDelta>();
  /** items that ran to the end (completed, or queued again while they ran) and items failed for good */
  readonly done = { processed: 0, failed: 0 };

  /** `n` items moved from one state to another (null: not in the queue). */
  move(from: number | null, to: number | null, n: number): this {
    if (from !== null) this.states[from]! -= n;
    if (to !== null) this.states[to]! += n;
    return this;
  }

  /** Changes the counters of `run` (null: the items belong to no run). */
  run(run: number | null, delta: Partial<RunDelta>): this {
    if (run === null || run === undefined) return this;
    const entry = this.runs.get(run) ?? { open: 0, processed: 0, failed: 0 };
    entry.open += delta.open ?? 0;
    entry.processed += delta.processed ?? 0;
    entry.failed += delta.failed ?? 0;
    this.runs.set(run, entry);
    return this;
  }

  /** `processed` items ran to the end and `failed` failed for good, of a run or not. */
  finished(processed: number, failed: number): this {
    this.done.processed += processed;
    this.done.failed += failed;
    return this;
  }
}

export class QueueCounters {
  readonly history: History;

  constructor(private readonly sql: Sql) {
    this.history = new History(sql);
  }

  apply(tally: Tally): void {
    const [pending, assigned, failed] = tally.states as [number, number, number];
    if (pending !== 0 || assigned !== 0 || failed !== 0) {
      this.sql.exec("UPDATE queue_counts SET n = n + CASE state WHEN 0 THEN ? WHEN 1 THEN ? ELSE ? END", pending, assigned, failed);
    }
    if (pending !== 0 || tally.done.processed !== 0 || tally.done.failed !== 0) this.history.note(tally.done.processed, tally.done.failed);
    for (const [run, delta] of tally.runs) {
      if (delta.open === 0 && delta.processed === 0 && delta.failed === 0) continue;
      this.sql.exec(
        "UPDATE runs SET open = open + ?, processed = processed + ?, failed = failed + ? WHERE seq = ?",
        delta.open,
        delta.processed,
        delta.failed,
        run,
      );
    }
  }

  counts(): QueueCounts {
    const counts = { pending: 0, assigned: 0, failed: 0 };
    for (const row of this.sql.all<{ state: number; n: number }>("SELECT state, n FROM queue_counts")) {
      if (row.state === 0) counts.pending = row.n;
      else if (row.state === 1) counts.assigned = row.n;
      else if (row.state === 2) counts.failed = row.n;
    }
    return counts;
  }
}
