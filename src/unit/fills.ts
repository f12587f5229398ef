/**
 * Reprocess-all runs still putting keys in the queue (table `fills`). A unit with a million
 * records is queued in chunks by the job, never read into memory at once; while a row
 * is here, status shows `filling: true`.
 */
import type { Queue, RecordFilter } from "./queue";
import type { Sql } from "./sql";

/** Keys queued per statement: small enough to stay well inside one alarm's CPU budget. */
export const FILL_CHUNK = 5000;

type FillRow = { id: number; scope: string; prefix: string | null; since: number | null; cursor: string | null; hops: number };

export class Fills {
  constructor(
    private readonly sql: Sql,
    private readonly queue: Queue,
  ) {}

  /** Queues the first chunk now; the rest is left for the job. Returns whether more remains. */
  start(filter: RecordFilter, hops = 0): boolean {
    const { count, last } = this.queue.enqueueFromRecords(filter, null, FILL_CHUNK, hops);
    if (count < FILL_CHUNK) return false;
    this.sql.exec(
      "INSERT INTO fills (scope, prefix, since, cursor, hops) VALUES (?, ?, ?, ?, ?)",
      filter.scope,
      filter.prefix ?? null,
      filter.since ?? null,
      last,
      hops,
    );
    return true;
  }

  /** Queues the next chunk of the oldest fill; returns false when no fill is left. */
  step(): boolean {
    const fill = this.sql.first<FillRow>("SELECT * FROM fills ORDER BY id LIMIT 1");
    if (!fill) return false;
    const filter: RecordFilter = { scope: fill.scope, prefix: fill.prefix ?? undefined, since: fill.since ?? undefined };
    this.sql.transaction(() => {
      const { count, last } = this.queue.enqueueFromRecords(filter, fill.cursor, FILL_CHUNK, fill.hops);
      if (count < FILL_CHUNK) this.sql.exec("DELETE FROM fills WHERE id = ?", fill.id);
      else this.sql.exec("UPDATE fills SET cursor = ? WHERE id = ?", last, fill.id);
    });
    return true;
  }

  active(): boolean {
    return this.sql.first("SELECT 1 AS x FROM fills LIMIT 1") !== undefined;
  }

  clear(): void {
    this.sql.exec("DELETE FROM fills");
  }
}
