/**
 * The references between records, kept by joining modules while they run (ForeignKeyJoin):
 * which (scope, key) items embed the content of which (ref_scope, ref_key) scope, and the
 * outboxes that keep them and their referrers moving between shards.
 *
 * Tables, each row belonging to one key (the column a split moves it by):
 * - `record_refs` (`key`: the referrer R): what R references, on R's shard; a run of R
 *   diffs against it, so an item run again with the same references writes nothing.
 * - `record_referrers` (`ref_key`: the referenced K): who references K, on K's shard; a
 *   change of K reads its referrers here.
 * - `reference_outbox` (`key`: the referrer R): on R's shard, the reverse rows still to be
 *   set (`present` 1) or dropped (0) on another shard; one row per reference, the latest
 *   wins (a replaced row gets a new id, so a delivery in flight never deletes it).
 * - `referrer_outbox` (`ref_key`: the changed K): on K's shard, changes whose referrers are
 *   still to be queued.
 * On a unit of one shard every K is local: `reference_outbox` stays empty.
 *
 * A write or delete of a referenced scope does not queue its referrers itself: it notes the
 * change in the referrer outbox ({@link ReferenceStore.noteChange}), and the referrers are
 * queued in chunks of at most {@link REFERRERS_PER_STEP} ({@link ReferenceStore.queueReferrers}
 * on one shard; across-shards.ts on several), so a key referenced by a million items costs no
 * single write or step more than a chunk.
 *
 * Invariants: one row per (scope, key, via, ref_scope, ref_key) in each table; `via` is the
 * field the reference came from, so several joins of one pipeline each replace only their
 * own rows. Keys travel as one JSON parameter (`json_each`), whatever their number. A
 * referrer outbox row walks the referrers in (scope, key) order after its cursor
 * (`after_scope`, `after_key`) and is deleted once past the last: every referrer present when
 * the change was noted is queued at least once after it. Of the rows not `started`, one per
 * change (ref_scope, ref_key, hops, writer) is enough; a step marks its rows started before
 * it queues anything, so a change noted meanwhile gets a row of its own.
 */
import type { ShardLayout } from "../routing/layout";
import { ownerOf } from "../routing/placement";
import type { UnitConfig } from "./config";
import type { Queue } from "./queue";
import type { Sql } from "./sql";

/** Referrers queued per step (a write's own, or one of the job's): a few ms of work whatever the fan-out. */
export const REFERRERS_PER_STEP = 500;

/** A reverse row to set (`present` 1) or drop (0) on the referenced key's shard. */
export type Reference = {
  scope: string;
  key: string;
  via: string;
  ref_scope: string;
  ref_key: string;
  present: number;
};

/** A reverse row waiting in this shard's outbox, by its id. */
export type OutgoingReference = Reference & { id: number };

/** A referrer to queue, at the hops of the change that queues it. */
export interface Referrer {
  scope: string;
  key: string;
  hops: number;
}

/** What one step takes from the referrer outbox: per change, the referrers it queues and where its cursor goes. */
export interface ReferrerStep {
  id: number;
  hops: number;
  referrers: Array<{ scope: string; key: string }>;
  /** whether the change has no referrers past these: its row goes */
  done: boolean;
}

/** Where this object sits in its unit: keys of other shards are referenced through the outbox. */
export interface Placement {
  shard: number;
  layout: ShardLayout;
  /** whether a split has moved `key` on from this shard already */
  moved?: (key: string) => boolean;
}

/** Where the unit's configuration puts this object (a unit not created yet: one shard). */
export function placementOf(unit: Pick<UnitConfig, "shard" | "layout"> | undefined, moved?: (key: string) => boolean): Placement {
  return { shard: unit?.shard ?? 0, layout: unit?.layout ?? { shards: 1, splitTo: null }, moved };
}

/**
 * A batch's items ([scope, key, refKeys] in one JSON parameter) as a table, each item's scope
 * and key read once: read per reference instead, SQLite parses the whole item again for every
 * one of its keys, and a batch of twenty items of a thousand references took 400 ms a statement.
 */
const BATCH_ITEMS = "WITH items AS MATERIALIZED (SELECT value ->> 0 AS scope, value ->> 1 AS key, value -> 2 AS ref_keys FROM json_each(?))";

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
    private readonly placement: () => Placement = () => ({ shard: 0, layout: { shards: 1, splitTo: null } }),
  ) {}

  /**
   * Replaces what the item (scope, key) references in `refScope` through `via`; an empty list
   * forgets them. Only the difference is written: an item run again with the same
   * references (the usual case) writes no page, where a thousand rows deleted and inserted
   * again cost a heavy item a third of its time. The reverse rows of keys on this shard are
   * set at once, those of other shards go through the outbox.
   */
  set(scope: string, key: string, via: string, refScope: string, refKeys: string[]): void {
    this.setMany(via, refScope, [{ scope, key, refKeys }]);
  }

  /**
   * {@link set} for many items at once (a batch's references through one `via`), in one
   * transaction of two statements: what a join records per batch rather than per item.
   */
  setMany(via: string, refScope: string, items: Array<{ scope: string; key: string; refKeys: string[] }>): void {
    if (items.length === 0) return;
    const entries = JSON.stringify(items.map((item) => [item.scope, item.key, item.refKeys]));
    this.sql.transaction(() => {
      const dropped = this.sql.all<{ scope: string; key: string; ref_key: string }>(
        `${BATCH_ITEMS} DELETE FROM record_refs WHERE via = ? AND ref_scope = ?
           AND (scope, key) IN (SELECT scope, key FROM items)
           AND (scope, key, ref_key) NOT IN (SELECT items.scope, items.key, wanted.value FROM items, json_each(items.ref_keys) AS wanted)
         RETURNING scope, key, ref_key`,
        entries,
        via,
        refScope,
      );
      const added = items.every((item) => item.refKeys.length === 0)
        ? []
        : this.sql.all<{ scope: string; key: string; ref_key: string }>(
            `${BATCH_ITEMS} INSERT OR IGNORE INTO record_refs (scope, key, via, ref_scope, ref_key)
             SELECT items.scope, items.key, ?, ?, wanted.value FROM items, json_each(items.ref_keys) AS wanted
             RETURNING scope, key, ref_key`,
            entries,
            via,
            refScope,
          );
      if (dropped.length === 0 && added.length === 0) return;
      const here = this.placement();
      const reference = (present: number) => (row: { scope: string; key: string; ref_key: string }) => ({
        scope: row.scope,
        key: row.key,
        via,
        ref_scope: refScope,
        ref_key: row.ref_key,
        present,
      });
      // during a split a key is here while its old shard is this one and it has not moved on (a new shard sends all)
      const alone = here.layout.shards === 1 && here.layout.splitTo === null;
      const local: Reference[] = [];
      const remote: Reference[] = [];
      for (const change of [...dropped.map(reference(0)), ...added.map(reference(1))]) {
        const isLocal = alone || (ownerOf(change.ref_key, here.layout) === here.shard && !here.moved?.(change.ref_key));
        (isLocal ? local : remote).push(change);
      }
      this.apply(local);
      if (remote.length > 0) this.send(remote);
    });
  }

  /** Sets or drops reverse rows of keys on this shard: idempotent, so a delivery made twice does no harm. */
  apply(references: Reference[]): void {
    if (references.length === 0) return;
    const rows = (present: number) =>
      JSON.stringify(references.filter((row) => row.present === present).map((row) => [row.ref_scope, row.ref_key, row.scope, row.key, row.via]));
    this.sql.transaction(() => {
      this.sql.exec(
        `DELETE FROM record_referrers WHERE (ref_scope, ref_key, scope, key, via) IN
           (SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?))`,
        rows(0),
      );
      this.sql.exec(
        `INSERT OR IGNORE INTO record_referrers (ref_scope, ref_key, scope, key, via)
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?)`,
        rows(1),
      );
    });
  }

  /** Queues reverse rows for other shards; a row already waiting for the same reference is replaced. */
  private send(references: Reference[]): void {
    this.sql.exec(
      `INSERT OR REPLACE INTO reference_outbox (scope, key, via, ref_scope, ref_key, present)
       SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 FROM json_each(?)`,
      JSON.stringify(references.map((row) => [row.scope, row.key, row.via, row.ref_scope, row.ref_key, row.present])),
    );
  }

  /** The oldest reverse rows waiting for other shards. */
  outgoing(limit = REFERRERS_PER_STEP): OutgoingReference[] {
    return this.sql.all<OutgoingReference>(
      "SELECT id, scope, key, via, ref_scope, ref_key, present FROM reference_outbox ORDER BY id LIMIT ?",
      limit,
    );
  }

  /** The reverse rows waiting for these keys of `refScope`: a read of them on their shard takes them along. */
  outgoingFor(refScope: string, refKeys: string[]): OutgoingReference[] {
    return this.sql.all<OutgoingReference>(
      `SELECT id, scope, key, via, ref_scope, ref_key, present FROM reference_outbox
       WHERE ref_scope = ? AND ref_key IN (SELECT value FROM json_each(?))`,
      refScope,
      JSON.stringify(refKeys),
    );
  }

  /** These rows reached their shard; a row replaced since (a new id) stays to be sent. */
  delivered(references: OutgoingReference[]): void {
    if (references.length === 0) return;
    this.sql.exec("DELETE FROM reference_outbox WHERE id IN (SELECT value FROM json_each(?))", JSON.stringify(references.map((row) => row.id)));
  }

  /**
   * (refScope, refKey) changed: its referrers are to be queued at `hops`, except `writer`, the
   * item whose module made the change. A key nothing references now notes nothing (most
   * writes: a load of new records): an item that comes to reference it sets its reverse row
   * here before it reads the key (across-shards.ts), so it reads this change.
   */
  noteChange(refScope: string, refKey: string, hops: number, writer?: { scope: string; key: string }): void {
    const referenced = this.sql.first("SELECT 1 AS x FROM record_referrers WHERE ref_scope = ? AND ref_key = ? LIMIT 1", refScope, refKey);
    if (referenced === undefined) return;
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
   * One step of the referrer outbox on a unit of one shard: queues up to `limit` referrers of
   * the oldest changes, those of `scopes` only (the scopes with a pipeline now), moving the
   * cursors on, in one transaction. Returns whether work is left.
   */
  queueReferrers(scopes: string[], limit = REFERRERS_PER_STEP, now = Date.now()): boolean {
    // nothing noted (the usual case after a client's write): one read, not a transaction of empty steps
    if (!this.waiting()) return false;
    return this.sql.transaction(() => {
      const steps = this.nextReferrers(scopes, limit);
      for (const step of steps) this.queue.enqueueItems(step.referrers, step.hops, now);
      this.advance(steps);
      return this.waiting();
    });
  }

  /**
   * The next referrers to queue: up to `limit` of the oldest changes, those of `scopes` only,
   * each change counted as one at least, so a step stays bounded however many changes have
   * none. Their rows are marked started: a change noted before the step has ended gets a
   * row of its own rather than being taken as this one. Pass the steps to {@link advance}
   * once their referrers are queued.
   */
  nextReferrers(scopes: string[], limit = REFERRERS_PER_STEP): ReferrerStep[] {
    const changes = this.sql.all<OutboxRow>("SELECT * FROM referrer_outbox ORDER BY id LIMIT ?", limit);
    // no change noted: no step to mark, and no transaction to open for it
    if (changes.length === 0) return [];
    return this.sql.transaction(() => {
      let left = limit;
      const steps: ReferrerStep[] = [];
      for (const change of changes) {
        if (left <= 0) break;
        const referrers = this.sql.all<{ scope: string; key: string }>(
          `SELECT DISTINCT scope, key FROM record_referrers
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
        steps.push({ id: change.id, hops: change.hops, referrers, done: referrers.length < left });
        left -= Math.max(referrers.length, 1);
      }
      if (steps.length > 0)
        this.sql.exec("UPDATE referrer_outbox SET started = 1 WHERE id IN (SELECT value FROM json_each(?))", JSON.stringify(steps.map((s) => s.id)));
      return steps;
    });
  }

  /** Moves the changes' cursors past the referrers their step queued; a change with none left goes. */
  advance(steps: ReferrerStep[]): void {
    if (steps.length === 0) return;
    this.sql.transaction(() => {
      for (const step of steps) {
        const last = step.referrers[step.referrers.length - 1];
        if (step.done || !last) this.sql.exec("DELETE FROM referrer_outbox WHERE id = ?", step.id);
        else this.sql.exec("UPDATE referrer_outbox SET after_scope = ?, after_key = ? WHERE id = ?", last.scope, last.key, step.id);
      }
    });
  }

  /** Whether changes wait for their referrers to be queued, or reverse rows for their shard. */
  waiting(): boolean {
    return this.sql.first("SELECT 1 AS x FROM referrer_outbox UNION ALL SELECT 1 FROM reference_outbox LIMIT 1") !== undefined;
  }

  /** Forgets the changes not yet followed (a purge of pending work); the reverse rows still travel, they are the index. */
  clearOutbox(): void {
    this.sql.exec("DELETE FROM referrer_outbox");
  }
}
