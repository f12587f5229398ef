/**
 * The records of a unit (table `records`): one row per (key, scope), a NULL `content`
 * being a tombstone that keeps the version of a deleted scope so an older write cannot
 * bring it back. Reads never show tombstones.
 */
import { failure, type Failure } from "../errors";
import { LIMITS } from "../limits";
import { RECORD_SCOPE } from "../schemas";
import { readBudget, type YieldBudget } from "../yield-budget";
import { Capacity, shardMaxBytes } from "./capacity";
import type { Sql } from "./sql";

export type Json = Record<string, unknown>;

export interface StoredRecord {
  key: string;
  content: Record<string, Json>;
  meta: Record<string, { version: number; updatedAt: string }>;
}

export type AddPolicy = "merge" | "overwrite" | "new";
export type DeletePolicy = "silent" | "mustexist";

type Row = { key: string; scope: string; content: string | null; version: number; updated_at: number };

export class RecordStore {
  private readonly capacity: Capacity;

  /**
   * `vars`: the Worker's variables, for the cap on the shard's bytes checked before each write
   * of content (./capacity.ts). `reads`: what the lists read counts towards, and waits for
   * between chunks (../yield-budget.ts): by default the one budget of every unit in the process
   * (of this object alone inside Workers, `readBudget`).
   */
  constructor(
    private readonly sql: Sql,
    vars: Record<string, unknown> = {},
    private readonly reads: YieldBudget = readBudget(),
  ) {
    this.capacity = new Capacity(sql, shardMaxBytes(vars));
  }

  /**
   * Writes one scope, its content as the JSON text to store (serialized once by whoever
   * measured it: the route, or a module's write). Returns the scopes whose content changed
   * (the written one, plus those an `overwrite` dropped), or the reason nothing changed.
   */
  addJson(key: string, scope: string, contentJson: string, policy: AddPolicy, version: number, now = Date.now()): { changed: string[] } | Failure {
    const rows = this.rowsOf(key);
    if (policy === "new" && rows.some((row) => row.content !== null)) {
      return failure("KEY_ALREADY_EXISTS", `key '${key}' already exists; use policy "merge" or "overwrite" to change it`);
    }
    // an overwrite replaces the whole record, so every scope it would drop must be older too
    const checked = policy === "overwrite" ? rows : rows.filter((row) => row.scope === scope);
    const newer = checked.find((row) => row.version > version);
    if (newer) return newerVersion(key, newer.scope, newer.version, version);
    // the content's length in UTF-16 units: at most its UTF-8 bytes, at least what it adds
    const full = this.capacity.refusal(contentJson.length);
    if (full) return full;
    const changed = [scope];
    if (policy === "overwrite") {
      for (const row of rows) {
        if (row.scope === scope || row.content === null) continue;
        this.tombstone(key, row.scope, Math.max(row.version, version), now);
        changed.push(row.scope);
      }
    }
    this.put(key, scope, contentJson, version, now);
    return { changed };
  }

  /** Drops a scope's content, keeping its version so an older write cannot bring it back. */
  private tombstone(key: string, scope: string, version: number, now: number): void {
    this.sql.exec("UPDATE records SET content = NULL, version = ?, updated_at = ? WHERE key = ? AND scope = ?", version, now, key, scope);
  }

  private put(key: string, scope: string, contentJson: string, version: number, now = Date.now()): void {
    this.sql.exec(
      `INSERT INTO records (key, scope, content, version, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (key, scope) DO UPDATE SET content = excluded.content, version = excluded.version, updated_at = excluded.updated_at`,
      key,
      scope,
      contentJson,
      version,
      now,
    );
  }

  /** Deletes one scope or every scope (`$record`), leaving tombstones. Returns the scopes deleted. */
  delete(key: string, scope: string, policy: DeletePolicy, version: number, now = Date.now()): { changed: string[] } | Failure {
    const rows = this.rowsOf(key).filter((row) => scope === RECORD_SCOPE || row.scope === scope);
    const live = rows.filter((row) => row.content !== null);
    if (policy === "mustexist" && live.length === 0) {
      return failure("KEY_NOT_FOUND", scope === RECORD_SCOPE ? `no record '${key}'` : `record '${key}' has no scope '${scope}'`);
    }
    const newest = rows.reduce((max, row) => Math.max(max, row.version), -Infinity);
    if (newest > version) return newerVersion(key, scope, newest, version);
    for (const row of rows) this.tombstone(key, row.scope, version, now);
    if (rows.length === 0 && scope !== RECORD_SCOPE) {
      // a delete that arrives before the write it follows must still win over it
      this.sql.exec("INSERT INTO records (key, scope, content, version, updated_at) VALUES (?, ?, NULL, ?, ?)", key, scope, version, now);
    }
    return { changed: live.map((row) => row.scope) };
  }

  /** One record with all its live scopes, or only `scope`; undefined when nothing is there. */
  get(key: string, scope?: string): StoredRecord | undefined {
    const rows = this.rowsOf(key).filter((row) => row.content !== null && (scope === undefined || row.scope === scope));
    return rows.length === 0 ? undefined : assemble(key, rows);
  }

  /**
   * The stored JSON text of `scope` for `keys`, in their order, undefined where a record has
   * no such scope (a key given twice is read twice): one statement per chunk of keys, run as
   * the caller asks for the chunk, so it may wait between two. `bytes` counts a chunk's
   * UTF-8 bytes. Contents are loaded only while the total before them is at most `maxBytes`:
   * the last chunk ends at the content that passed it, so a caller bounded by a size never
   * holds more than that and one more record.
   * @example for (const { contents } of records.contentsJson(keys, "authors", 1_000_000)) ...
   */
  *contentsJson(
    keys: string[],
    scope: string,
    maxBytes = Number.MAX_SAFE_INTEGER,
  ): Generator<{ contents: Array<string | undefined>; bytes: number }> {
    // a hundred keys a statement: a thousand reads cost ten statements rather than a thousand, and
    // their JSON (at most 512 bytes a key, escaped) stays far within the 2 MB one value may hold
    const keysPerRead = 100;
    let left = maxBytes;
    for (let start = 0; start < keys.length && left >= 0; start += keysPerRead) {
      const chunk = keys.slice(start, start + keysPerRead);
      // CROSS JOIN keeps the keys the outer loop, each a primary-key lookup: left to itself, the
      // planner scans the whole scope instead (thirty times slower for a hundred keys)
      const rows = this.sql.all<{ position: number; total: number; content: string }>(
        `WITH found AS (
           SELECT wanted.key AS position, wanted.value AS key, sum(octet_length(records.content)) OVER (ORDER BY wanted.key) AS total
           FROM json_each(?) AS wanted CROSS JOIN records ON records.key = wanted.value AND records.scope = ? AND records.content IS NOT NULL
         )
         SELECT found.position, found.total, records.content FROM found CROSS JOIN records ON records.key = found.key AND records.scope = ?
         WHERE found.total - octet_length(records.content) <= ?
         ORDER BY found.position`,
        JSON.stringify(chunk),
        scope,
        scope,
        left,
      );
      const last = rows[rows.length - 1];
      const bytes = last?.total ?? 0;
      left -= bytes;
      // past the budget the chunk ends at the content that passed it; else every key has its place
      const contents: Array<string | undefined> = new Array(left < 0 ? last!.position + 1 : chunk.length).fill(undefined);
      for (const row of rows) contents[row.position] = row.content;
      yield { contents, bytes };
    }
  }

  /**
   * Records in the order of `keys`, missing ones left out. A response stops before it
   * passes the list limit; `remainingKeys` then lists the keys it did not reach, to ask again.
   */
  getMany(keys: string[], scope?: string, maxBytes = LIST_BUDGET): { records: StoredRecord[]; remainingKeys?: string[] } {
    const unique = [...new Set(keys)];
    let collected: Collected = { records: [] };
    for (const step of this.collect(unique, scope, maxBytes)) collected = step;
    const { records, stoppedAt } = collected;
    return stoppedAt === undefined ? { records } : { records, remainingKeys: unique.slice(stoppedAt) };
  }

  /**
   * Resolves once a read may start: when the reads of the process (of every unit on a
   * self-hosted server) have used up their slice, after a yield to the event loop. For a
   * read that cannot wait between its chunks ({@link getMany}): it waits before, its bytes count.
   */
  async turn(): Promise<void> {
    for (let wait = this.reads.ready(); wait; wait = this.reads.ready()) await wait;
  }

  /**
   * A page of records sorted by key in byte order, from `startId` (inclusive). `nextStartId`
   * is the first key of the next page, absent on the last one. Between two chunks of records
   * it waits for its {@link turn}: a page of 8 MiB is some pieces of work, not one block, and
   * other units' calls get in between (on every runtime: the slice counts bytes read).
   */
  async page(startId: string | undefined, size: number, scope?: string): Promise<{ records: StoredRecord[]; nextStartId?: string }> {
    await this.turn();
    const keys = this.pageKeys(startId, size + 1, scope);
    let collected: Collected = { records: [] };
    for (const step of this.collect(keys.slice(0, size), scope, LIST_BUDGET)) {
      collected = step;
      if (step.stoppedAt === undefined) await this.turn();
    }
    const { records, stoppedAt } = collected;
    if (stoppedAt !== undefined) return { records, nextStartId: keys[stoppedAt] };
    return keys.length > size ? { records, nextStartId: keys[size] } : { records };
  }

  /** The first `limit` keys with a live scope (or `scope`) from `startId` (inclusive), in byte order. */
  pageKeys(startId: string | undefined, limit: number, scope?: string): string[] {
    return this.sql
      .all<{ key: string }>(
        `SELECT DISTINCT key FROM records WHERE key >= ? AND content IS NOT NULL ${scope ? "AND scope = ?" : ""} ORDER BY key LIMIT ?`,
        startId ?? "",
        ...(scope ? [scope] : []),
        limit,
      )
      .map((row) => row.key);
  }

  /**
   * The records of `keys` in that order, read a few keys at a time so that a list of large
   * records is never all in memory; stops at the key that would pass `budget` bytes. Yields
   * the records so far after each chunk, its bytes counted in the reads' budget, so that the
   * caller may wait between two; the last step is the whole answer.
   */
  private *collect(keys: string[], scope: string | undefined, budget: number): Generator<Collected> {
    const records: StoredRecord[] = [];
    let bytes = 0;
    // one key first, then as many as keep a chunk near READ_STEP_BYTES: a page of large records is many steps
    let perRead = 1;
    let start = 0;
    while (start < keys.length) {
      const before = bytes;
      const chunk = keys.slice(start, start + perRead);
      const byKey = groupByKey(
        this.sql.all<Row>(
          `SELECT key, scope, content, version, updated_at FROM records
           WHERE key IN (SELECT value FROM json_each(?)) AND content IS NOT NULL ${scope ? "AND scope = ?" : ""}`,
          JSON.stringify(chunk),
          ...(scope ? [scope] : []),
        ),
      );
      let stoppedAt: number | undefined;
      for (const [offset, key] of chunk.entries()) {
        const group = byKey.get(key);
        if (!group) continue;
        bytes += responseBytes(key, group);
        if (bytes > budget && records.length > 0) {
          stoppedAt = start + offset;
          break;
        }
        records.push(assemble(key, group));
      }
      this.reads.count(bytes - before);
      if (stoppedAt !== undefined) {
        yield { records, stoppedAt };
        return;
      }
      yield { records };
      start += chunk.length;
      perRead = Math.max(1, Math.min(KEYS_PER_READ, Math.floor((chunk.length * READ_STEP_BYTES) / Math.max(1, bytes - before))));
    }
  }

  /** Which of `keys` have a live `scope`. */
  existing(scope: string, keys: string[]): Set<string> {
    const rows = this.sql.all<{ key: string }>(
      "SELECT key FROM records WHERE scope = ? AND content IS NOT NULL AND key IN (SELECT value FROM json_each(?))",
      scope,
      JSON.stringify(keys),
    );
    return new Set(rows.map((row) => row.key));
  }

  count(): number {
    return this.sql.first<{ n: number }>("SELECT count(DISTINCT key) AS n FROM records WHERE content IS NOT NULL")?.n ?? 0;
  }

  private rowsOf(key: string): Row[] {
    return this.sql.all<Row>("SELECT key, scope, content, version, updated_at FROM records WHERE key = ?", key);
  }
}

/** Records collected so far, and where a list stopped short of its room (the index of the first key left out). */
type Collected = { records: StoredRecord[]; stoppedAt?: number };

function newerVersion(key: string, scope: string, stored: number, given: number): Failure {
  return failure(
    "NEWER_VERSION_ALREADY_EXISTS",
    `${scope === RECORD_SCOPE ? "record" : `scope '${scope}' of`} '${key}' has version ${stored}, newer than ${given}; send a version >= ${stored}`,
  );
}

const utf8 = new TextEncoder();

/** Room left in a list response for its envelope: `{"message":"OK","records":[],"nextStartId":...}`. */
export const LIST_BUDGET = LIMITS.listResponseBytes - 4096;
/** Keys read per statement when building a list, at most: at most this many scopes of 1 MiB in memory at once. */
const KEYS_PER_READ = 8;
/** The bytes a list reads per statement, about (fewer keys when they are large): a slice of the reads' budget. */
const READ_STEP_BYTES = 1024 * 1024;

/**
 * An upper bound of a record's size in a JSON response, in UTF-8 bytes (the content is
 * stored as the JSON text the response repeats; a string's length counts UTF-16 units, not bytes).
 */
function responseBytes(key: string, rows: Row[]): number {
  let bytes = 2 * utf8.encode(key).length + 40;
  for (const row of rows) bytes += (row.content === null ? 0 : utf8.encode(row.content).length) + 2 * row.scope.length + 100;
  return bytes;
}

function groupByKey(rows: Row[]): Map<string, Row[]> {
  const byKey = new Map<string, Row[]>();
  for (const row of rows) {
    const group = byKey.get(row.key);
    if (group) group.push(row);
    else byKey.set(row.key, [row]);
  }
  return byKey;
}

function assemble(key: string, rows: Row[]): StoredRecord {
  const record: StoredRecord = { key, content: {}, meta: {} };
  for (const row of [...rows].sort((a, b) => (a.scope < b.scope ? -1 : 1))) {
    if (row.content === null) continue;
    record.content[row.scope] = JSON.parse(row.content);
    record.meta[row.scope] = { version: row.version, updatedAt: new Date(row.updated_at).toISOString() };
  }
  return record;
}
