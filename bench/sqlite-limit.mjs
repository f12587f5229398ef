#!/usr/bin/env node
/**
 * `npm run bench:sqlite`: what bare `node:sqlite` allows on this machine for the row shapes
 * a shard writes, with the self-hosted server's settings (WAL, synchronous NORMAL) and the
 * unit's tables (src/unit/migrations.ts: records, queue), so the engine's figures have a
 * ceiling to be read against. No restage code runs here: only the statements.
 *
 * Measures, over BENCH_RECORDS rows (default 100,000) in transactions of BENCH_BATCH_SIZE
 * (default 1000), BENCH_ROUNDS times (default 3), printing the range:
 * - ingest: one upsert per record (as `transaction/batch` adds a record);
 * - queue insert / claim update / delete by key list: one statement per batch (json_each);
 *   delete by key range: a fill's claim completed as the server does (src/unit/queue.ts);
 * - drain cycle: per batch, read the records' content, insert their queue rows under a
 *   lease, delete them by their range at completion (the least a drain of `reprocess/all`
 *   does in SQL);
 * - drain read only: the same reads alone, as if a batch were leased as one key range.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { tmpdir } from "node:os";
import { join } from "node:path";

const RECORDS = Number(process.env.BENCH_RECORDS ?? 100_000);
const BATCH = Number(process.env.BENCH_BATCH_SIZE ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const SCHEMA = `
  CREATE TABLE records (key TEXT NOT NULL, scope TEXT NOT NULL, content TEXT, version REAL NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (key, scope));
  CREATE INDEX records_by_scope ON records (scope, key);
  CREATE TABLE queue (scope TEXT NOT NULL, key TEXT NOT NULL, state INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
    next_run_at INTEGER NOT NULL, lease_token TEXT, rerun INTEGER NOT NULL DEFAULT 0, hops INTEGER NOT NULL DEFAULT 0,
    last_error TEXT, failed_at INTEGER, run INTEGER, PRIMARY KEY (scope, key)) WITHOUT ROWID;
  CREATE INDEX queue_due ON queue (state, next_run_at);`;

const keyOf = (i) => `doc-${String(i).padStart(8, "0")}`;
const contentOf = (i) => JSON.stringify({ headline: `Document ${i}`, n: i, author: { name: `Author ${i % 100}` }, internal: "x" });

function measureRound() {
  const dir = mkdtempSync(join(tmpdir(), "restage-sqlite-limit-"));
  const db = new DatabaseSync(join(dir, "unit.sqlite"));
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
  db.exec(SCHEMA);
  const timed = (fn) => {
    const start = performance.now();
    fn();
    return RECORDS / ((performance.now() - start) / 1000);
  };
  const inBatches = (each) => {
    for (let start = 0; start < RECORDS; start += BATCH) {
      const keys = [];
      for (let i = start; i < Math.min(RECORDS, start + BATCH); i++) keys.push(keyOf(i));
      db.exec("BEGIN");
      each(keys, start);
      db.exec("COMMIT");
    }
  };
  const figures = {};

  const upsert = db.prepare(
    "INSERT INTO records (key, scope, content, version, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key, scope) DO UPDATE SET content = excluded.content, version = excluded.version, updated_at = excluded.updated_at",
  );
  figures["ingest (upsert a record)"] = timed(() =>
    inBatches((keys, start) => {
      for (const [i, key] of keys.entries()) upsert.run(key, "raw", contentOf(start + i), Date.now(), Date.now());
    }),
  );

  const insertQueue = db.prepare("INSERT INTO queue (scope, key, state, next_run_at, run) SELECT 'raw', value, 0, ?, 1 FROM json_each(?)");
  figures["queue insert (batch)"] = timed(() => inBatches((keys) => insertQueue.run(Date.now(), JSON.stringify(keys))));
  const claim = db.prepare(
    "UPDATE queue SET state = 1, lease_token = ?, attempts = attempts + 1 WHERE scope = 'raw' AND key IN (SELECT key FROM queue WHERE state = 0 AND next_run_at <= ? ORDER BY next_run_at LIMIT ?) RETURNING key",
  );
  figures["queue claim (update)"] = timed(() => inBatches((keys, start) => claim.all(`t${start}`, Date.now() + 1, keys.length)));
  const remove = db.prepare("DELETE FROM queue WHERE scope = 'raw' AND key IN (SELECT value FROM json_each(?)) AND NOT rerun = 1");
  figures["queue delete (batch)"] = timed(() => inBatches((keys) => remove.run(JSON.stringify(keys))));
  const removeRange = db.prepare("DELETE FROM queue WHERE scope = 'raw' AND key >= ? AND key <= ? AND lease_token = ? AND NOT rerun = 1");
  const leaseAll = db.prepare(
    "INSERT INTO queue (scope, key, state, next_run_at, lease_token, run) SELECT 'raw', value, 1, ?, 'all', 1 FROM json_each(?)",
  );
  inBatches((keys) => leaseAll.run(Date.now(), JSON.stringify(keys)));
  figures["queue delete (range)"] = timed(() => inBatches((keys) => removeRange.run(keys[0], keys.at(-1), "all")));

  const read = db.prepare("SELECT key, content, version FROM records WHERE scope = 'raw' AND content IS NOT NULL AND key > ? ORDER BY key LIMIT ?");
  const lease = db.prepare(
    "INSERT INTO queue (scope, key, state, attempts, next_run_at, lease_token, run) SELECT 'raw', value, 1, 1, ?, ?, 1 FROM json_each(?)",
  );
  figures["drain cycle (read, lease, delete)"] = timed(() => {
    let cursor = "";
    for (let start = 0; start < RECORDS; start += BATCH) {
      db.exec("BEGIN");
      const rows = read.all(cursor, BATCH);
      const keys = JSON.stringify(rows.map((row) => row.key));
      lease.run(Date.now(), `t${start}`, keys);
      db.exec("COMMIT");
      for (const row of rows) JSON.parse(row.content);
      cursor = rows.at(-1).key;
      db.exec("BEGIN");
      removeRange.run(rows[0].key, cursor, `t${start}`);
      db.exec("COMMIT");
    }
  });
  // what a drain would cost with a fill's batch leased as a key range (one row) rather than a row per item
  figures["drain read only (range lease)"] = timed(() => {
    let cursor = "";
    for (let start = 0; start < RECORDS; start += BATCH) {
      const rows = read.all(cursor, BATCH);
      for (const row of rows) JSON.parse(row.content);
      cursor = rows.at(-1).key;
    }
  });
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return figures;
}

const rounds = [];
for (let round = 0; round < ROUNDS; round++) rounds.push(measureRound());
console.log(
  `bare node:sqlite ${process.versions.sqlite}, WAL + synchronous NORMAL, ${RECORDS.toLocaleString("en-US")} rows, ${BATCH} per transaction, ${ROUNDS} rounds (rows/s):`,
);
for (const name of Object.keys(rounds[0])) {
  const values = rounds.map((figures) => Math.round(figures[name]));
  console.log(
    `${name.padEnd(36)} ${Math.min(...values)
      .toLocaleString("en-US")
      .padStart(10)} – ${Math.max(...values).toLocaleString("en-US")}`,
  );
}
