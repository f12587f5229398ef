/**
 * The reverse references between records (table `record_refs`): which (scope, key) items
 * embed the content of which (ref_scope, ref_key) scope, recorded by joining modules while
 * they run. A write or delete of a referenced scope looks here to queue its referrers again.
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

  /** The items that reference (refScope, refKey), grouped by their scope. */
  referrers(refScope: string, refKey: string): Map<string, string[]> {
    const rows = this.sql.all<{ scope: string; key: string }>(
      "SELECT DISTINCT scope, key FROM record_refs WHERE ref_scope = ? AND ref_key = ?",
      refScope,
      refKey,
    );
    const byScope = new Map<string, string[]>();
    for (const row of rows) {
      const keys = byScope.get(row.scope);
      if (keys) keys.push(row.key);
      else byScope.set(row.scope, [row.key]);
    }
    return byScope;
  }
}
