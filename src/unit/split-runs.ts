/**
 * What a split must carry besides rows: the queue's counters and the runs the moved items
 * belong to. A queue row's `run` (and a fill's) is a `runs.seq` of the shard it is on, so the
 * runs go along by id: the new shard files the items under its own share of each run (laid
 * when missing, with no total: the run's total stays where its fill counted it), and both
 * shards move their per-state and per-run counters by exactly the rows that left or came.
 */
import { QueueCounters, Tally } from "./queue-counters";
import type { Row } from "./split-rows";
import type { Sql } from "./sql";

const FAILED = 2;

/** A run as it travels with a batch: its id and what a share of it needs. */
export type RunShare = Row & { seq: number; id: string };

/** The runs that `queue` rows and `fills` of a batch belong to, by their seq here. */
export function runsOf(sql: Sql, seqs: Array<number | null>): RunShare[] {
  const wanted = [...new Set(seqs.filter((seq): seq is number => seq !== null))];
  if (wanted.length === 0) return [];
  return sql.all<RunShare>(
    "SELECT seq, id, scope, prefix, since, trigger, state, started_at, finished_at FROM runs WHERE seq IN (SELECT value FROM json_each(?))",
    JSON.stringify(wanted),
  );
}

/** The seq here of each run sent (by its seq on the sender), laying a share of it where there is none. */
export function adoptRuns(sql: Sql, runs: RunShare[]): Map<number, number> {
  const seqs = new Map<number, number>();
  for (const run of runs) {
    sql.exec(
      `INSERT INTO runs (id, scope, prefix, since, trigger, state, total, started_at, finished_at)
       VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (id) DO NOTHING`,
      run.id,
      run.scope,
      run.prefix,
      run.since,
      run.trigger,
      run.state,
      run.started_at,
      run.finished_at,
    );
    const here = sql.first<{ seq: number }>("SELECT seq FROM runs WHERE id = ?", run.id);
    if (here) seqs.set(run.seq, here.seq);
  }
  return seqs;
}

/** Queue rows leave (`sign` -1) or arrive (+1): the counters per state and each run's open items move by them. */
export function countQueueRows(sql: Sql, rows: Row[], sign: 1 | -1): void {
  const tally = new Tally();
  for (const row of rows) {
    const state = Number(row.state);
    tally.move(sign < 0 ? state : null, sign > 0 ? state : null, 1);
    if (state !== FAILED && row.run !== null && row.run !== undefined) tally.run(Number(row.run), { open: sign });
  }
  new QueueCounters(sql).apply(tally);
}
