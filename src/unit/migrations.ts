/**
 * The unit's schema as ordered, numbered migrations, run by migration-runner.ts (recorded in
 * `_migrations`). Append new steps at the end, numbered on; never edit one that has shipped.
 * Then `npm run schema:baseline` writes schema-baseline.ts again, the schema a new unit is
 * laid from in one pass (until then a new unit runs the new steps after the baseline).
 * Each step is `up`: a list of statements, one string each (or a function given the `Sql`).
 *
 * Tables: `unit` (one row: configuration, flags, counters), `records` (one row per key and
 * scope; `content` NULL is a tombstone), `queue` (one row per scope and key; `state` 0
 * pending, 1 assigned, 2 failed; for an assigned item `next_run_at` is its lease expiry),
 * `fills` (reprocess/all runs still putting keys in the queue, with how many they have left),
 * `record_refs`, `record_referrers`, `reference_outbox` and `referrer_outbox` (which items
 * embed which other scopes, both ways, and what is still to travel: see references.ts),
 * `grants` (the users allowed on this unit, with their token hashes: see grants.ts), `runs`
 * (reprocess/all runs with their counters: see run-store.ts), `queue_counts` (items per queue
 * state: see queue-counters.ts), `throughput` and `rate_origins` (completions per second: see
 * rates.ts), `job_metrics` and `batch_durations` (the job's counters and batch-duration
 * histogram: see metrics.ts), `split` (an old shard's move to the new shards while a split
 * runs) and `split_reports` (on shard 0: the old shards that have moved all theirs): see split.ts;
 * `history` (the queue per minute, kept 24 h: see history.ts).
 */
import { hasMigrations, runMigrations, type Migration } from "./migration-runner";
import { BASELINE } from "./schema-baseline";
import type { Sql } from "./sql";

export const MIGRATIONS: Migration[] = [
  {
    id: 1,
    name: "unit, records, queue",
    up: [
      `CREATE TABLE unit (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        content_processing INTEGER NOT NULL,
        reprocessing_queue INTEGER NOT NULL,
        paused INTEGER NOT NULL DEFAULT 0,
        processed INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        settings TEXT NOT NULL DEFAULT '{}',
        modules TEXT NOT NULL DEFAULT '{"modules":{},"settings":{}}',
        schedules TEXT NOT NULL DEFAULT '[]'
      )`,
      `CREATE TABLE records (
        key TEXT NOT NULL,
        scope TEXT NOT NULL,
        content TEXT,
        version REAL NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (key, scope)
      )`,
      `CREATE INDEX records_by_scope ON records (scope, key)`,
      `CREATE TABLE queue (
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        state INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_run_at INTEGER NOT NULL,
        lease_token TEXT,
        rerun INTEGER NOT NULL DEFAULT 0,
        hops INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        failed_at INTEGER,
        PRIMARY KEY (scope, key)
      ) WITHOUT ROWID`,
      `CREATE INDEX queue_due ON queue (state, next_run_at)`,
      `CREATE INDEX queue_lease ON queue (lease_token) WHERE lease_token IS NOT NULL`,
      `CREATE TABLE fills (
        id INTEGER PRIMARY KEY,
        scope TEXT NOT NULL,
        prefix TEXT,
        since INTEGER,
        cursor TEXT,
        hops INTEGER NOT NULL DEFAULT 0
      )`,
    ],
  },
  {
    id: 2,
    name: "record_refs: reverse references of joining modules",
    up: [
      `CREATE TABLE record_refs (
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        via TEXT NOT NULL,
        ref_scope TEXT NOT NULL,
        ref_key TEXT NOT NULL,
        PRIMARY KEY (scope, key, via, ref_scope, ref_key)
      ) WITHOUT ROWID`,
      `CREATE INDEX record_refs_by_target ON record_refs (ref_scope, ref_key)`,
    ],
  },
  {
    id: 3,
    name: "grants: users allowed on this unit (see grants.ts)",
    up: [
      `CREATE TABLE grants (
        user_name TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL,
        permission TEXT NOT NULL CHECK (permission IN ('r', 'w', 'rw'))
      )`,
      `CREATE INDEX grants_by_token ON grants (token_hash)`,
    ],
  },
  {
    id: 4,
    name: "queue: results found by key and run token, no index on the token",
    // every claimed item is reached through its (scope, key): the token index only cost a write per claim
    up: ["DROP INDEX IF EXISTS queue_lease"],
  },
  {
    id: 5,
    name: "fills: the keys each has still to queue, counted once at its start",
    // a status read then sums a column instead of counting the records left (one pass over them per poll)
    up: [
      `ALTER TABLE fills ADD COLUMN remaining INTEGER NOT NULL DEFAULT 0`,
      `UPDATE fills SET remaining = (
        SELECT count(*) FROM records
        WHERE records.scope = fills.scope AND records.content IS NOT NULL AND records.key > coalesce(fills.cursor, '')
          AND (fills.prefix IS NULL OR substr(records.key, 1, length(fills.prefix)) = fills.prefix)
          AND (fills.since IS NULL OR records.updated_at >= fills.since)
      )`,
    ],
  },
  {
    id: 6,
    name: "referrer_outbox: changes whose referrers the job has still to queue",
    // a write used to queue every referrer of the changed key inside itself: one write could
    // hold the object for as long as its fan-out took; the job now queues them in chunks
    up: [
      `CREATE TABLE referrer_outbox (
        id INTEGER PRIMARY KEY,
        ref_scope TEXT NOT NULL,
        ref_key TEXT NOT NULL,
        hops INTEGER NOT NULL,
        writer_scope TEXT NOT NULL DEFAULT '',
        writer_key TEXT NOT NULL DEFAULT '',
        after_scope TEXT NOT NULL DEFAULT '',
        after_key TEXT NOT NULL DEFAULT ''
      )`,
      `CREATE UNIQUE INDEX referrer_outbox_unstarted ON referrer_outbox (ref_scope, ref_key, hops, writer_scope, writer_key)
        WHERE after_scope = '' AND after_key = ''`,
    ],
  },
  {
    id: 7,
    name: "unit: the shard this object is, and the unit's shards as it knows them",
    // a unit made before shards is one shard, shard 0, with its data as it is
    up: [
      "ALTER TABLE unit ADD COLUMN shard INTEGER NOT NULL DEFAULT 0",
      "ALTER TABLE unit ADD COLUMN shards INTEGER NOT NULL DEFAULT 1",
      "ALTER TABLE unit ADD COLUMN split_to INTEGER",
    ],
  },
  {
    id: 8,
    name: "references across shards: who references a key on the key's shard, reverse rows for other shards in an outbox",
    // record_refs stays the referrer's forward list; its reverse index becomes a table that a
    // split can move by the referenced key. A unit of one shard references only its own keys:
    // its reverse rows are its record_refs as they are
    up: [
      `CREATE TABLE record_referrers (
        ref_scope TEXT NOT NULL,
        ref_key TEXT NOT NULL,
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        via TEXT NOT NULL,
        PRIMARY KEY (ref_scope, ref_key, scope, key, via)
      ) WITHOUT ROWID`,
      "INSERT INTO record_referrers (ref_scope, ref_key, scope, key, via) SELECT ref_scope, ref_key, scope, key, via FROM record_refs",
      "DROP INDEX record_refs_by_target",
      `CREATE TABLE reference_outbox (
        id INTEGER PRIMARY KEY,
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        via TEXT NOT NULL,
        ref_scope TEXT NOT NULL,
        ref_key TEXT NOT NULL,
        present INTEGER NOT NULL
      )`,
      "CREATE UNIQUE INDEX reference_outbox_by_target ON reference_outbox (ref_scope, ref_key, scope, key, via)",
      // a step marks the changes it takes, so that one noted while its referrers travel gets a row of its own
      "ALTER TABLE referrer_outbox ADD COLUMN started INTEGER NOT NULL DEFAULT 0",
      "UPDATE referrer_outbox SET started = 1 WHERE after_scope <> '' OR after_key <> ''",
      "DROP INDEX referrer_outbox_unstarted",
      "CREATE UNIQUE INDEX referrer_outbox_unstarted ON referrer_outbox (ref_scope, ref_key, hops, writer_scope, writer_key) WHERE started = 0",
    ],
  },
  {
    id: 9,
    name: "runs, queue counters, throughput and job metrics (see run-store.ts, queue-counters.ts, rates.ts, metrics.ts)",
    // status, runs and metrics read counters kept as the queue changes: a count(*) over a
    // million-item queue on every poll cost more than the drain it watched
    up: [
      `CREATE TABLE runs (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        scope TEXT NOT NULL,
        prefix TEXT,
        since INTEGER,
        trigger TEXT NOT NULL,
        state TEXT NOT NULL,
        total INTEGER NOT NULL,
        open INTEGER NOT NULL DEFAULT 0,
        processed INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        started_at INTEGER NOT NULL,
        finished_at INTEGER
      )`,
      `ALTER TABLE queue ADD COLUMN run INTEGER`,
      `ALTER TABLE fills ADD COLUMN run INTEGER`,
      `CREATE TABLE queue_counts (state INTEGER PRIMARY KEY, n INTEGER NOT NULL)`,
      `INSERT INTO queue_counts (state, n) SELECT s.value, (SELECT count(*) FROM queue WHERE queue.state = s.value) FROM json_each('[0,1,2]') AS s`,
      `CREATE TABLE throughput (run INTEGER NOT NULL, second INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (run, second)) WITHOUT ROWID`,
      `CREATE TABLE rate_origins (run INTEGER PRIMARY KEY, first_at INTEGER NOT NULL, last_at INTEGER NOT NULL)`,
      `CREATE TABLE job_metrics (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        batches INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        duration_sum REAL NOT NULL DEFAULT 0
      )`,
      `INSERT INTO job_metrics (id) VALUES (1)`,
      // cumulative histogram buckets, as Prometheus exposes them: a batch adds 1 to every bucket it fits
      `CREATE TABLE batch_durations (le REAL PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)`,
      `INSERT INTO batch_durations (le) SELECT value FROM json_each('[0.01,0.05,0.1,0.25,0.5,1,2.5,5,10,30,60,300]')`,
    ],
  },
  {
    id: 10,
    name: "split, split_reports: a split's move cursor on each old shard, and on shard 0 who has finished",
    up: [
      `CREATE TABLE split (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        split_to INTEGER NOT NULL,
        cursor TEXT,
        moved INTEGER NOT NULL DEFAULT 0,
        total INTEGER NOT NULL,
        done INTEGER NOT NULL DEFAULT 0,
        reported INTEGER NOT NULL DEFAULT 0
      )`,
      `CREATE TABLE split_reports (shard INTEGER PRIMARY KEY)`,
    ],
  },
  {
    id: 11,
    name: "history: the queue per minute, kept 24 h (see history.ts)",
    up: [
      `CREATE TABLE history (
        minute INTEGER PRIMARY KEY,
        processed INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        pending INTEGER NOT NULL
      )`,
    ],
  },
  {
    id: 12,
    name: "keyed placement, the locks a creation and a split's start take on shard 0, reverse rows by key",
    // a unit made before keyed placement keeps FNV-1a (no seed); a split recorded before
    // this had finished starting (laid 1)
    up: [
      "ALTER TABLE unit ADD COLUMN seed TEXT",
      "ALTER TABLE split ADD COLUMN laid INTEGER NOT NULL DEFAULT 1",
      `CREATE TABLE creating (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        shards INTEGER NOT NULL
      )`,
      // a split walks the keys that have reverse rows and no record as well
      "CREATE INDEX record_referrers_by_key ON record_referrers (ref_key)",
    ],
  },
];

/**
 * Whether this object's schema was ever laid. It is laid when the unit is created, not when
 * the object is first reached, so a request naming a unit that does not exist leaves nothing behind.
 */
export function hasSchema(sql: Sql): boolean {
  return hasMigrations(sql);
}

/** Applies the migrations not yet recorded, a new database from the baseline; safe to run on every start. */
export function migrate(sql: Sql): void {
  runMigrations(sql, MIGRATIONS, BASELINE);
}
