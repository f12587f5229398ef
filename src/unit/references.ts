/**
 * The reverse references between records (table `record_refs`): which (scope, key) items
 * embed the content of which (ref_scope, ref_key) scope, recorded by joining modules while
 * they run; and the outbox of changes whose referrers are still to be queued (table
 * `referrer_outbox`).
 *
 * A write or delete of a referenced scope does not queue its referrers itself: it notes the
 * change in the outbox ({@link ReferenceStore.noteChange}), and the job queues the
 * referrers in chunks of at most {@link REFERRERS_PER_STEP} ({@link ReferenceStore.queueReferrers}),
 * so a key referenced by a million items costs no single write or step more than a chunk.
 *
 * Invariants: one row per (scope, key, via, ref_scope, ref_key); `via` is the field the
 * reference came from, so several joins of one pipeline each replace only their own rows.
 * Keys travel as one JSON parameter (`json_each`), whatever their number. An outbox row
 * walks the referrers in (scope, key) order after its cursor (`after_scope`, `after_key`;
 * empty: not started) and is deleted once past the last: every referrer present when the
 * change was noted is queued at least once after it. Of the rows not started, one per
 * change (ref_scope, ref_key, hops, writer) is enough; a started row lets a new one in,
 * since the referrers before its cursor have not seen the new change.
 */
import type { Queue } from "./queue";
import type { Sql } from "./sql";

/** Referrers queued per step (a write's own, or one of the job's): a few ms of work whatever the fan-out. */
export const REFERRERS_PER_STEP = 500;

type OutboxRow = {
  id: number;
  ref_scope: string;
  ref_key: string;
  hops: number;
  writer_scope: string;
  writer_key: string;
  after_scope: string;
  after_key: string;
};

export class ReferenceStore {
  constructor(
    private readonly sql: Sql,
    private readonly queue: Queue,
  ) {}

  /**
   * Replaces what the item (scope, key) references in `refScope` through `via`; an empty list
   * forgets them. Only the difference is written: an item run again with the same
   * references (the usual case) writes no page, where a thousand rows deleted and inserted
   * again cost a heavy item a third of its time.
   */
  set(scope: string, key: string, via: string, refScope: string, refKeys: string[]): void {
    const keys = JSON.stringify(refKeys);
    this.sql.transaction(() => {
      this.sql.exec(
        `DELETE FROM record_refs WHERE scope = ? AND key = ? AND via = ? AND ref_scope = ?
           AND ref_key NOT IN (SELECT value FROM json_each(?))`,
        scope,
        key,
        via,
        refScope,
        keys,
      );
      if (refKeys.length === 0) return;
      this.sql.exec(
        `INSERT OR IGNORE INTO record_refs (scope, key, via, ref_scope, ref_key)
         SELECT ?, ?, ?, ?, value FROM json_each(?)`,
        scope,
        key,
        via,
        refScope,
        keys,
      );
    });
  }

  /** (refScope, refKey) changed: its referrers are to be queued at `hops`, except `writer`, the item whose module made the change. */
  noteChange(refScope: string, refKey: string, hops: number, writer?: { scope: string; key: string }): void {
    this.sql.exec(
      "INSERT OR IGNORE INTO referrer_outbox (ref_scope, ref_key, hops, writer_scope, writer_key) VALUES (?, ?, ?, ?, ?)",
      refScope,
      refKey,
      hops,
      writer?.scope ?? "",
      writer?.key ?? "",
    );
  }

  /**
   * One step of the outbox: queues up to `limit` referrers of the oldest changes, those of
   * `scopes` only (the scopes with a pipeline now), moving the cursors on. Each change
   * counts as at least one referrer, so a step stays bounded however many changes have
   * none. Returns whether changes are left.
   */
  queueReferrers(scopes: string[], limit = REFERRERS_PER_STEP, now = Date.now()): boolean {
    return this.sql.transaction(() => {
      let left = limit;
      const changes = this.sql.all<OutboxRow>("SELECT * FROM referrer_outbox ORDER BY id LIMIT ?", limit);
      for (const change of changes) {
        if (left <= 0) break;
        const referrers = this.sql.all<{ scope: string; key: string }>(
          `SELECT DISTINCT scope, key FROM record_refs
           WHERE ref_scope = ? AND ref_key = ? AND (scope, key) > (?, ?) AND scope IN (SELECT value FROM json_each(?))
             AND NOT (scope = ? AND key = ?)
           ORDER BY scope, key LIMIT ?`,
          change.ref_scope,
          change.ref_key,
          change.after_scope,
          change.after_key,
          JSON.stringify(scopes),
          change.writer_scope,
          change.writer_key,
          left,
        );
        this.queue.enqueueItems(referrers, change.hops, now);
        const last = referrers[referrers.length - 1];
        if (referrers.length < left || !last) this.sql.exec("DELETE FROM referrer_outbox WHERE id = ?", change.id);
        else this.sql.exec("UPDATE referrer_outbox SET after_scope = ?, after_key = ? WHERE id = ?", last.scope, last.key, change.id);
        left -= Math.max(referrers.length, 1);
      }
      return this.waiting();
    });
  }

  /** Whether changes wait for their referrers to be queued. */
  waiting(): boolean {
    return this.sql.first("SELECT 1 AS x FROM referrer_outbox LIMIT 1") !== undefined;
  }

  /** Forgets the changes not yet followed (a purge of pending work). */
  clearOutbox(): void {
    this.sql.exec("DELETE FROM referrer_outbox");
  }
}
