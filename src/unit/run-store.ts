/**
 * This shard's share of each run: owns table `runs` (its counters `open`, `processed` and
 * `failed` are kept by queue-counters.ts as the queue changes). A run is local by `seq`
 * (what queue rows and fills carry) and known to clients by `id`, which its caller made
 * (the route or the cron tick), so every shard of a unit files its share under one id.
 *
 * States: filling (its fill is still queuing keys) → running (its items are pending or
 * assigned) → done; or cancelled / replaced, which end it as it stands. A run that
 * reaches no key is done at once. Invariants: a finished run has `finished_at`; the
 * table keeps the last {@link KEEP} runs.
 */
import { log } from "../log";
import type { Rates } from "./rates";
import type { RunPart, RunState, RunTrigger } from "./runs";
import type { Sql } from "./sql";

/** Runs a unit keeps (API.md). */
export const KEEP = 100;

type RunRow = {
  seq: number;
  id: string;
  scope: string;
  prefix: string | null;
  since: number | null;
  trigger: string;
  state: string;
  total: number;
  open: number;
  processed: number;
  failed: number;
  started_at: number;
  finished_at: number | null;
  unfilled: number;
};

/** A run's row with the keys its fill has still to queue. */
const SELECT = "SELECT runs.*, coalesce((SELECT sum(remaining) FROM fills WHERE fills.run = runs.seq), 0) AS unfilled FROM runs";

/**
 * Runs by their start, newest first: the order of the unit's list (runs.ts, `combineRunLists`).
 * Not by seq: a split hands a new shard the runs of its old shard after the runs it started
 * itself, so a new shard's seqs do not follow the runs' starts.
 */
const NEWEST_FIRST = "ORDER BY started_at DESC, seq DESC";

export interface RunStart {
  id: string;
  scope: string;
  prefix?: string;
  since?: number;
  trigger: RunTrigger;
  total: number;
}

export class RunStore {
  constructor(
    private readonly sql: Sql,
    private readonly rates: Pick<Rates, "perSecond" | "forget">,
    /** the unit and shard a log line names */
    private readonly where: () => { unit: string; shard: number },
  ) {}

  /** Files a new run (filling until {@link settle} says otherwise); returns its seq. */
  start(run: RunStart, now = Date.now()): number {
    const row = this.sql.first<{ seq: number }>(
      "INSERT INTO runs (id, scope, prefix, since, trigger, state, total, started_at) VALUES (?, ?, ?, ?, ?, 'filling', ?, ?) RETURNING seq",
      run.id,
      run.scope,
      run.prefix || null,
      run.since ?? null,
      run.trigger,
      run.total,
      now,
    )!;
    const old = this.sql.all<{ seq: number }>(`SELECT seq FROM runs ${NEWEST_FIRST} LIMIT -1 OFFSET ?`, KEEP).map((r) => r.seq);
    if (old.length > 0) {
      this.sql.exec("DELETE FROM runs WHERE seq IN (SELECT value FROM json_each(?))", JSON.stringify(old));
      this.rates.forget(old);
    }
    log("info", "run-started", {
      ...this.where(),
      runId: run.id,
      scope: run.scope,
      prefix: run.prefix || null,
      since: run.since === undefined ? null : new Date(run.since).toISOString(),
      trigger: run.trigger,
      total: run.total,
    });
    return row.seq;
  }

  seqOf(id: string): number | undefined {
    return this.sql.first<{ seq: number }>("SELECT seq FROM runs WHERE id = ?", id)?.seq;
  }

  /** Ends a run still going as cancelled or replaced; false when it had ended already. */
  end(seq: number, state: "cancelled" | "replaced", now = Date.now()): boolean {
    const ended = this.sql.all<RunRow>(
      `UPDATE runs SET state = ?, finished_at = ? WHERE seq = ? AND state IN ('filling', 'running') RETURNING *, 0 AS unfilled`,
      state,
      now,
      seq,
    );
    for (const row of ended) this.logEnd(row);
    return ended.length > 0;
  }

  /**
   * Moves the runs still going to the state their fill and items say: running once the fill
   * has ended, done once nothing of theirs is pending or assigned either.
   */
  settle(now = Date.now()): void {
    const noFill = "NOT EXISTS (SELECT 1 FROM fills WHERE fills.run = runs.seq)";
    const done = this.sql.all<RunRow>(
      `UPDATE runs SET state = 'done', finished_at = ? WHERE state IN ('filling', 'running') AND open <= 0 AND ${noFill} RETURNING *, 0 AS unfilled`,
      now,
    );
    this.sql.exec(`UPDATE runs SET state = 'running' WHERE state = 'filling' AND ${noFill}`);
    for (const row of done) this.logEnd(row);
  }

  part(id: string, now = Date.now()): RunPart | undefined {
    const row = this.sql.first<RunRow>(`${SELECT} WHERE id = ?`, id);
    return row && this.toPart(row, now);
  }

  /** This shard's runs, newest first ({@link NEWEST_FIRST}). */
  list(limit: number, now = Date.now()): RunPart[] {
    return this.sql.all<RunRow>(`${SELECT} ${NEWEST_FIRST} LIMIT ?`, limit).map((row) => this.toPart(row, now));
  }

  private toPart(row: RunRow, now: number): RunPart {
    return {
      id: row.id,
      scope: row.scope,
      prefix: row.prefix,
      since: row.since === null ? null : new Date(row.since).toISOString(),
      trigger: row.trigger as RunTrigger,
      state: row.state as RunState,
      total: row.total,
      processed: row.processed,
      failed: row.failed,
      startedAt: new Date(row.started_at).toISOString(),
      finishedAt: row.finished_at === null ? null : new Date(row.finished_at).toISOString(),
      itemsPerSecond: this.rates.perSecond(row.seq, now),
      open: Math.max(row.open, 0),
      unfilled: row.unfilled,
    };
  }

  private logEnd(row: RunRow): void {
    log("info", "run-ended", {
      ...this.where(),
      runId: row.id,
      state: row.state as RunState,
      total: row.total,
      processed: row.processed,
      failed: row.failed,
      ms: (row.finished_at ?? Date.now()) - row.started_at,
    });
  }
}
