/**
 * What a split must carry besides rows: the queue's counters and the runs the moved items
 * belong to. A queue row's `run` (and a fill's) is a `runs.seq` of the shard it is on, so the
 * runs go along by id: the new shard files the items under its own share of each run (laid
 * when missing), and both shards move their per-state and per-run counters by exactly the
 * rows that left or came.
 *
 * Which shard reaches a key for a run: the old shard reaches every key of its share of the
 * unit once it holds the run, with the keys themselves (their items, or the fill that goes
 * with each batch; a run started during the split lays its fill at the start of the store,
 * fills.ts), so a new shard that holds the run by a batch starts nothing of it itself
 * (run-control.ts) and takes the sender's fill for it (`Fills.adopt`); a new shard that
 * started the run before any batch of it came lays its own fill, which reaches the keys
 * moved before the old shard started it. Once an old shard has moved all it had to, it
 * tells each of its new shards every run it holds, with its fills as they stand (they stand
 * still until the split ends): a fill a new shard laid for a run the old shard had reached
 * its keys for (say, it started before it learnt of the split, and ran every item of
 * those keys before they left) goes. Each share's total follows what it reaches here
 * ({@link recountRuns}), so the shares add up to the run's keys once the split has ended.
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

/** Every run this shard holds: what an old shard tells its new shards once it has moved all it had to. */
export function runsHeld(sql: Sql): RunShare[] {
  return sql.all<RunShare>("SELECT seq, id, scope, prefix, since, trigger, state, started_at, finished_at FROM runs");
}

/** Queue rows leave (`sign` -1) or arrive (+1): the counters per state and each run's open items move by them, and its total with them. */
export function countQueueRows(sql: Sql, rows: Row[], sign: 1 | -1): void {
  const tally = new Tally();
  for (const row of rows) {
    const state = Number(row.state);
    tally.move(sign < 0 ? state : null, sign > 0 ? state : null, 1);
    if (state !== FAILED && row.run !== null && row.run !== undefined) tally.run(Number(row.run), { open: sign });
  }
  new QueueCounters(sql).apply(tally);
  recountRuns(sql, tally.runs.keys());
}

/**
 * Counts again what each run of `seqs` (when omitted: each with a fill here) reaches on this
 * shard: its items processed, failed and still open, and the keys its fill has still to
 * queue. A split changes that, as keys and fills come and go.
 */
export function recountRuns(sql: Sql, seqs?: Iterable<number>): void {
  const which = seqs === undefined ? "seq IN (SELECT run FROM fills)" : "seq IN (SELECT value FROM json_each(?))";
  sql.exec(
    `UPDATE runs SET total = processed + failed + max(open, 0) + coalesce((SELECT sum(remaining) FROM fills WHERE fills.run = runs.seq), 0) WHERE ${which}`,
    ...(seqs === undefined ? [] : [JSON.stringify([...seqs])]),
  );
}
