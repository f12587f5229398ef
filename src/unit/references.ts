/**
 * The reverse references between records (table `record_refs`): which (scope, key) items
 * embed the content of which (ref_scope, ref_key) scope, recorded by joining modules while
 * they run. A write or delete of a referenced scope queues its referrers again from here
 * ({@link Queue.enqueueReferrers}, one statement whatever their number).
 *
 * Invariants: one row per (scope, key, via, ref_scope, ref_key); `via` is the field the
 * reference came from, so several joins of one pipeline each replace only their own rows.
 * Keys travel as one JSON parameter (`json_each`), whatever their number.
 */
import type { Sql } from "./sql";

export class ReferenceStore {
  constructor(private readonly sql: Sql) {}

  /** Replaces what the item (scope, key) references in `refScope` through `via`; an empty list forgets them. */
  set(scope: string, key: string, via: string, refScope: string, refKeys: string[]): void {
    this.sql.transaction(() => {
      this.sql.exec("DELETE FROM record_refs WHERE scope = ? AND key = ? AND via = ? AND ref_scope = ?", scope, key, via, refScope);
      if (refKeys.length === 0) return;
      this.sql.exec(
        `INSERT OR IGNORE INTO record_refs (scope, key, via, ref_scope, ref_key)
         SELECT ?, ?, ?, ?, value FROM json_each(?)`,
        scope,
        key,
        via,
        refScope,
        JSON.stringify(refKeys),
      );
    });
  }
}
