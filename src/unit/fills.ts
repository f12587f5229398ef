/**
 * Reprocess-all runs still putting keys in the queue: owns table `fills`, one row per run
 * with its filter, its cursor (the last key taken, in the store's order) and how many keys
 * it has left. A unit with a million records is queued in chunks, never read into memory
 * at once: the first chunk at the call, the rest by the job's workers, who take the next
 * keys straight into their batch (assigned, `Queue.claimKeys`) when nothing else is due.
 * While a row is here, status shows `filling: true`.
 *
 * Invariants: a key before a fill's cursor has been queued or claimed by it; one fill per
 * (scope, prefix, since), a new call replacing the old.
 */
import type { Claim, Queue } from "./queue";
import { compareKeys, RecordScan, type RecordFilter } from "./record-scan";
import type { Sql } from "./sql";

/** Keys queued per statement: small enough to stay well inside one alarm's CPU budget. */
export const FILL_CHUNK = 5000;

type FillRow = {
  id: number;
  scope: string;
  prefix: string | null;
  since: number | null;
  cursor: string | null;
  hops: number;
  remaining: number;
  run: number | null;
};

export class Fills {
  private readonly records: RecordScan;

  constructor(
    private readonly sql: Sql,
    private readonly queue: Queue,
  ) {
    this.records = new RecordScan(sql);
  }

  /** How many live records match a filter: what a `reprocess/all` will queue. */
  count(filter: RecordFilter): number {
    return this.records.count(filter);
  }

  /**
   * Queues the first chunk of the `total` keys that match now; the rest is left for the
   * job. A fill of the same scope, prefix and since still running is replaced: its keys
   * after its cursor are then queued once, those before it once more, as the new call asks.
   * The keys are queued for `run` (run-store.ts). Returns whether more remains.
   */
  start(filter: RecordFilter, total: number, hops = 0, run: number | null = null): boolean {
    const prefix = filter.prefix || null;
    const since = filter.since ?? null;
    this.sql.exec("DELETE FROM fills WHERE scope = ? AND prefix IS ? AND since IS ?", filter.scope, prefix, since);
    const keys = this.queue.enqueueSelected(this.records.keys(filter, null, FILL_CHUNK), hops, Date.now(), run);
    if (keys.length < FILL_CHUNK) return false;
    // RETURNING gives no order: the cursor is the greatest key in the store's order
    const last = keys.reduce((a, b) => (compareKeys(a, b) >= 0 ? a : b));
    this.sql.exec(
      "INSERT INTO fills (scope, prefix, since, cursor, hops, remaining, run) VALUES (?, ?, ?, ?, ?, ?, ?)",
      filter.scope,
      prefix,
      since,
      last,
      hops,
      Math.max(total - keys.length, 0),
      run,
    );
    return true;
  }

  /**
   * Lays the fill of `run` at the start of the store, queuing nothing yet: a run started
   * while the unit splits. Fills stand still until the split ends and travel with every
   * batch the shard sends, so this one reaches every key of the shard's share of the unit
   * (split.ts), whether it is here when the split ends or has moved by then. A fill of the
   * same filter is replaced, as in {@link start}.
   */
  lay(filter: RecordFilter, total: number, run: number): void {
    const prefix = filter.prefix || null;
    const since = filter.since ?? null;
    this.sql.exec("DELETE FROM fills WHERE scope = ? AND prefix IS ? AND since IS ?", filter.scope, prefix, since);
    this.sql.exec(
      "INSERT INTO fills (scope, prefix, since, cursor, hops, remaining, run) VALUES (?, ?, ?, NULL, 0, ?, ?)",
      filter.scope,
      prefix,
      since,
      total,
      run,
    );
  }

  /**
   * Claims the next `limit` keys of the oldest fill under a new lease, moving its cursor
   * on (and dropping it once its records are exhausted). Undefined when no fill is left;
   * the claim may be empty when every key read was queued already.
   */
  claim(limit: number, leaseMs: number, now = Date.now()): Claim | undefined {
    const fill = this.sql.first<FillRow>("SELECT * FROM fills ORDER BY id LIMIT 1");
    if (!fill) return undefined;
    const filter: RecordFilter = { scope: fill.scope, prefix: fill.prefix ?? undefined, since: fill.since ?? undefined };
    return this.sql.transaction(() => {
      const rows = this.records.read(filter, fill.cursor, limit);
      const claim = this.queue.claimKeys(
        fill.scope,
        rows.map((row) => row.key),
        leaseMs,
        fill.hops,
        now,
        fill.run,
      );
      // the claim carries the content read already, so the job need not read it again; its
      // items are the keys read, in their order, less those queued already
      let next = 0;
      for (const item of claim.items) {
        while (rows[next]!.key !== item.key) next++;
        item.content = rows[next]!.content;
        item.version = rows[next]!.version;
      }
      if (rows.length < limit) this.sql.exec("DELETE FROM fills WHERE id = ?", fill.id);
      else
        this.sql.exec(
          "UPDATE fills SET cursor = ?, remaining = max(remaining - ?, 0) WHERE id = ?",
          rows[rows.length - 1]!.key,
          rows.length,
          fill.id,
        );
      return claim;
    });
  }

  /**
   * Keys the fills have still to queue: the progress of a long `reprocess/all`. Counted at
   * the start and counted down as keys are taken, so records written or deleted meanwhile
   * make it an estimate; it reaches 0 when the fill ends.
   */
  remaining(): number {
    return this.sql.first<{ n: number }>("SELECT coalesce(sum(remaining), 0) AS n FROM fills")?.n ?? 0;
  }

  /** The run of the fill with this filter still going, if any (null: a fill of no run). */
  runOf(filter: RecordFilter): number | null | undefined {
    const row = this.sql.first<{ run: number | null }>(
      "SELECT run FROM fills WHERE scope = ? AND prefix IS ? AND since IS ?",
      filter.scope,
      filter.prefix || null,
      filter.since ?? null,
    );
    return row === undefined ? undefined : row.run;
  }

  /** Keys the fill of `run` has still to queue (0 once it has ended). */
  remainingOf(run: number): number {
    return this.sql.first<{ n: number }>("SELECT coalesce(sum(remaining), 0) AS n FROM fills WHERE run = ?", run)?.n ?? 0;
  }

  /** Ends the fill of `run` (a cancel); returns the keys it had still to queue. */
  stop(run: number): number {
    const left = this.remainingOf(run);
    this.sql.exec("DELETE FROM fills WHERE run = ?", run);
    return left;
  }

  active(): boolean {
    return this.sql.first("SELECT 1 AS x FROM fills LIMIT 1") !== undefined;
  }

  clear(): void {
    this.sql.exec("DELETE FROM fills");
  }

  // ── splits (split.ts): fills stand still while a split runs ─────────────

  /** Each fill's filter and position, for the new shards of a split. */
  positions(): FillPosition[] {
    return this.sql.all<FillPosition>("SELECT scope, prefix, since, cursor, hops, run FROM fills ORDER BY id");
  }

  /**
   * Takes on the fills of the old shard whose keys arrive here. `runs` maps the sender's run
   * seqs of the batch (its items' runs and its fills' runs; every run it holds, in its last
   * word: split-runs.ts) to their seqs here. The sender reaches every key of its share of the unit for each of its runs
   * (its items, its fill, or what it processed before the keys left), so a share of one of
   * those runs takes the sender's fill as it is, or none when the sender has none: a fill this
   * shard laid for it (its own start, before any batch of the run came) would reach those keys
   * again. Of two fills with one filter of different runs, the lesser cursor, so no key
   * arriving later is missed (at worst a key is queued twice and runs once more).
   */
  adopt(fills: FillPosition[], runs: Map<number, number>): void {
    const sent = new Set(fills.map((fill) => fill.run));
    for (const [theirs, mine] of runs) if (!sent.has(theirs)) this.sql.exec("DELETE FROM fills WHERE run = ?", mine);
    for (const fill of fills) {
      // the run's seq here, laid by the batch the fill came with
      const run = fill.run === null ? null : (runs.get(fill.run) ?? null);
      const mine = this.sql.first<{ id: number; cursor: string | null; run: number | null }>(
        "SELECT id, cursor, run FROM fills WHERE scope = ? AND prefix IS ? AND since IS ?",
        fill.scope,
        fill.prefix,
        fill.since,
      );
      if (!mine)
        this.sql.exec(
          "INSERT INTO fills (scope, prefix, since, cursor, hops, run) VALUES (?, ?, ?, ?, ?, ?)",
          fill.scope,
          fill.prefix,
          fill.since,
          fill.cursor,
          fill.hops,
          run,
        );
      else if ((run !== null && mine.run === run) || fill.cursor === null || (mine.cursor !== null && compareKeys(fill.cursor, mine.cursor) < 0))
        this.sql.exec("UPDATE fills SET cursor = ? WHERE id = ?", fill.cursor, mine.id);
    }
  }

  /** Counts again the keys each fill has left: after a split, the keys behind each cursor are others. */
  recount(): void {
    this.sql.exec(
      `UPDATE fills SET remaining = (
        SELECT count(*) FROM records
        WHERE records.scope = fills.scope AND records.content IS NOT NULL AND records.key > coalesce(fills.cursor, '')
          AND (fills.prefix IS NULL OR substr(records.key, 1, length(fills.prefix)) = fills.prefix)
          AND (fills.since IS NULL OR records.updated_at >= fills.since)
      )`,
    );
  }
}

export type FillPosition = { scope: string; prefix: string | null; since: number | null; cursor: string | null; hops: number; run: number | null };
