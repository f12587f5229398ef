/**
 * The migration runner (src/unit/migration-runner.ts) and the two lists it runs: a unit's
 * and the registry's, on new databases and on databases laid by the code before the runner
 * (the fixtures below are that code's statements, copied as they shipped).
 */
import { describe, expect, it } from "vitest";
import { REGISTRY_MIGRATIONS } from "../../src/registry/migrations";
import { fnv1a32, placementHash } from "../../src/routing/placement";
import { ConfigStore } from "../../src/unit/config";
import { runMigrations, schemaStatements, type Migration } from "../../src/unit/migration-runner";
import { hasSchema, migrate, MIGRATIONS } from "../../src/unit/migrations";
import { Queue } from "../../src/unit/queue";
import { BASELINE } from "../../src/unit/schema-baseline";
import { memorySql } from "./sqlite";

/** A unit's schema as the old runner laid it (migrations 1–5, each recorded in `_migrations`), with one of each row. */
const OLD_UNIT = `
  CREATE TABLE _migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);
  CREATE TABLE unit (
    id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, created_at INTEGER NOT NULL,
    content_processing INTEGER NOT NULL, reprocessing_queue INTEGER NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0, processed INTEGER NOT NULL DEFAULT 0, last_error TEXT,
    settings TEXT NOT NULL DEFAULT '{}', modules TEXT NOT NULL DEFAULT '{"modules":{},"settings":{}}',
    schedules TEXT NOT NULL DEFAULT '[]'
  );
  CREATE TABLE records (key TEXT NOT NULL, scope TEXT NOT NULL, content TEXT, version REAL NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (key, scope));
  CREATE INDEX records_by_scope ON records (scope, key);
  CREATE TABLE queue (
    scope TEXT NOT NULL, key TEXT NOT NULL, state INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
    next_run_at INTEGER NOT NULL, lease_token TEXT, rerun INTEGER NOT NULL DEFAULT 0, hops INTEGER NOT NULL DEFAULT 0,
    last_error TEXT, failed_at INTEGER, PRIMARY KEY (scope, key)
  ) WITHOUT ROWID;
  CREATE INDEX queue_due ON queue (state, next_run_at);
  CREATE TABLE fills (id INTEGER PRIMARY KEY, scope TEXT NOT NULL, prefix TEXT, since INTEGER, cursor TEXT, hops INTEGER NOT NULL DEFAULT 0, remaining INTEGER NOT NULL DEFAULT 0);
  CREATE TABLE record_refs (
    scope TEXT NOT NULL, key TEXT NOT NULL, via TEXT NOT NULL, ref_scope TEXT NOT NULL, ref_key TEXT NOT NULL,
    PRIMARY KEY (scope, key, via, ref_scope, ref_key)
  ) WITHOUT ROWID;
  CREATE INDEX record_refs_by_target ON record_refs (ref_scope, ref_key);
  CREATE TABLE grants (user_name TEXT PRIMARY KEY, token_hash TEXT NOT NULL, permission TEXT NOT NULL CHECK (permission IN ('r', 'w', 'rw')));
  CREATE INDEX grants_by_token ON grants (token_hash);
  INSERT INTO _migrations VALUES (1, 'unit, records, queue', 1), (2, 'record_refs', 2), (3, 'grants', 3), (4, 'queue: no token index', 4), (5, 'fills: remaining', 5);
  INSERT INTO unit (id, name, created_at, content_processing, reprocessing_queue, processed) VALUES (1, 'old', 1, 1, 1, 7);
  INSERT INTO records VALUES ('k1', 'raw', '{"a":1}', 1, 1);
  INSERT INTO queue (scope, key, state, attempts, next_run_at, last_error, failed_at) VALUES ('raw', 'k1', 2, 3, 1, 'no', 1);
  INSERT INTO fills (scope, cursor, remaining) VALUES ('raw', 'k0', 12);
  INSERT INTO grants VALUES ('ann', 'hash', 'rw');
  INSERT INTO record_refs VALUES ('books', 'b1', 'authorId', 'authors', 'a1'), ('books', 'b2', 'authorId', 'authors', 'a1');
`;

/** The registry as its constructors laid it: CREATE ... IF NOT EXISTS, no record of it, with rows. */
const OLD_REGISTRY = [
  "CREATE TABLE IF NOT EXISTS units (name TEXT PRIMARY KEY, created_at INTEGER NOT NULL, active INTEGER NOT NULL DEFAULT 0)",
  "CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, token_hash TEXT NOT NULL, created_at INTEGER NOT NULL)",
  "CREATE INDEX IF NOT EXISTS users_by_token ON users (token_hash)",
  "CREATE TABLE IF NOT EXISTS user_grants (user_name TEXT NOT NULL, unit TEXT NOT NULL, permission TEXT NOT NULL, PRIMARY KEY (user_name, unit))",
  "CREATE INDEX IF NOT EXISTS user_grants_by_unit ON user_grants (unit)",
  "INSERT INTO units VALUES ('old', 1, 1)",
  "INSERT INTO users VALUES ('ann', 'hash', 1)",
  "INSERT INTO user_grants VALUES ('ann', 'old', 'rw')",
];

const tables = (sql: ReturnType<typeof memorySql>["sql"]) =>
  sql
    .all<{ name: string }>("SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .map((row) => row.name);
const everyStep = MIGRATIONS.map((step) => step.id);
const recorded = (sql: ReturnType<typeof memorySql>["sql"]) => sql.all<{ id: number }>("SELECT id FROM _migrations ORDER BY id").map((row) => row.id);

const queueCounts = (sql: ReturnType<typeof memorySql>["sql"]) => new Queue(sql).counts();

describe("the unit's migrations", () => {
  it("lay the whole schema on a new database, once", () => {
    const { sql } = memorySql();
    expect(hasSchema(sql)).toBe(false);
    migrate(sql);
    expect(hasSchema(sql)).toBe(true);
    expect(recorded(sql)).toEqual(everyStep);
    const laid = tables(sql);
    expect(laid).toEqual(
      expect.arrayContaining([
        "unit",
        "records",
        "queue",
        "fills",
        "record_refs",
        "grants",
        "queue_due",
        "records_by_scope",
        "referrer_outbox",
        "split",
        "split_reports",
      ]),
    );
    expect(laid).not.toContain("queue_lease");
    migrate(sql);
    expect(tables(sql)).toEqual(laid);
  });

  it("lay a new database from the baseline with the schema, rows and record the steps one by one lay", () => {
    const stepByStep = memorySql().sql;
    runMigrations(stepByStep, MIGRATIONS);
    const { sql } = memorySql();
    migrate(sql);
    expect(schemaStatements(sql)).toEqual(schemaStatements(stepByStep));
    expect(recorded(sql)).toEqual(everyStep);
    expect(queueCounts(sql)).toEqual(queueCounts(stepByStep));
  });

  it("have a baseline as far as their last step: after appending one, run npm run schema:baseline", () => {
    const stepByStep = memorySql().sql;
    runMigrations(stepByStep, MIGRATIONS);
    expect(BASELINE).toEqual({ through: MIGRATIONS.length, statements: schemaStatements(stepByStep) });
  });

  it("recognise a unit laid by the code before them: only the steps appended since run, every row stays and works", () => {
    const { sql, storage } = memorySql();
    storage.exec(OLD_UNIT);
    const before = tables(sql);
    migrate(sql);
    // steps 6 and later came after the runner: the outboxes, the reverse references (their old index goes)
    const added = ["referrer_outbox", "referrer_outbox_unstarted", "record_referrers", "reference_outbox", "reference_outbox_by_target"];
    added.push("runs", "queue_counts", "throughput", "rate_origins", "job_metrics", "batch_durations", "split", "split_reports");
    const laid = tables(sql);
    expect(laid).toEqual(expect.arrayContaining([...before.filter((name) => name !== "record_refs_by_target"), ...added]));
    expect(laid).not.toContain("record_refs_by_target");
    expect(recorded(sql)).toEqual(everyStep);
    // the counters start from the rows already there: its one failed item
    expect(queueCounts(sql)).toEqual({ pending: 0, assigned: 0, failed: 1 });
    // a unit of one shard: who references a1 is known on it, as its record_refs said
    expect(sql.all("SELECT scope, key, via FROM record_referrers WHERE ref_scope = 'authors' AND ref_key = 'a1' ORDER BY key")).toEqual([
      { scope: "books", key: "b1", via: "authorId" },
      { scope: "books", key: "b2", via: "authorId" },
    ]);
    expect(sql.first("SELECT name, processed FROM unit")).toEqual({ name: "old", processed: 7 });
    // made before shards: shard 0 of a one-shard unit; made before keyed placement: no seed, so its keys stay where FNV-1a put them
    expect(sql.first("SELECT shard, shards, split_to, seed FROM unit")).toEqual({ shard: 0, shards: 1, split_to: null, seed: null });
    const { layout } = new ConfigStore(sql).get()!;
    expect(layout).toEqual({ shards: 1, splitTo: null });
    for (const key of ["k1", "a1", "b2"]) expect(placementHash(key, layout)).toBe(fnv1a32(key));
    expect(sql.first("SELECT remaining FROM fills")).toEqual({ remaining: 12 });
    expect(sql.first("SELECT permission FROM grants WHERE user_name = 'ann'")).toEqual({ permission: "rw" });
    // its failed item is listed, and starts over when retried
    const queue = new Queue(sql);
    expect(queue.failed(10).items).toEqual([{ scope: "raw", key: "k1", attempts: 3, lastError: "no", failedAt: new Date(1).toISOString() }]);
    expect(queue.retryFailed()).toBe(1);
    expect(queue.counts()).toEqual({ pending: 1, assigned: 0, failed: 0 });
  });
});

describe("the registry's migrations", () => {
  it("lay its tables on a new registry", () => {
    const { sql } = memorySql();
    runMigrations(sql, REGISTRY_MIGRATIONS);
    expect(tables(sql)).toEqual(expect.arrayContaining(["units", "active_shards", "users", "user_grants", "users_by_token", "user_grants_by_unit"]));
    expect(recorded(sql)).toEqual([1, 2]);
  });

  it("run over a registry laid before them, keep its rows, and record it", () => {
    const { sql } = memorySql();
    for (const statement of OLD_REGISTRY) sql.exec(statement);
    expect(runMigrations(sql, REGISTRY_MIGRATIONS)).toEqual([1, 2]);
    expect(recorded(sql)).toEqual([1, 2]);
    expect(sql.all("SELECT * FROM units")).toEqual([{ name: "old", created_at: 1, active: 1 }]);
    // an active unit of before shards stays on the cron's list, as its shard 0
    expect(sql.all("SELECT * FROM active_shards")).toEqual([{ unit: "old", shard: 0 }]);
    expect(sql.all("SELECT * FROM users")).toEqual([{ name: "ann", token_hash: "hash", created_at: 1 }]);
    expect(sql.all("SELECT * FROM user_grants")).toEqual([{ user_name: "ann", unit: "old", permission: "rw" }]);
    expect(runMigrations(sql, REGISTRY_MIGRATIONS)).toEqual([]);
  });
});

describe("the runner", () => {
  const steps: Migration[] = [
    { id: 1, name: "a table", up: ["CREATE TABLE t (v TEXT)", "INSERT INTO t VALUES ('a;b'), ('CREATE TRIGGER x; END')"] },
    {
      id: 2,
      name: "a trigger (its body holds a ;)",
      up: ["CREATE TABLE log (v TEXT)", "CREATE TRIGGER t_log AFTER INSERT ON t BEGIN INSERT INTO log VALUES (new.v); END"],
    },
    {
      id: 3,
      name: "a step that reads before it writes",
      up: (sql) => sql.exec("INSERT INTO t VALUES (?)", `rows: ${sql.first<{ n: number }>("SELECT count(*) AS n FROM t")!.n}`),
    },
  ];

  it("runs statements whole, a ; in a string or a trigger included, and steps given as functions", () => {
    const { sql } = memorySql();
    expect(runMigrations(sql, steps)).toEqual([1, 2, 3]);
    expect(sql.all<{ v: string }>("SELECT v FROM t").map((row) => row.v)).toEqual(["a;b", "CREATE TRIGGER x; END", "rows: 2"]);
    expect(sql.all<{ v: string }>("SELECT v FROM log").map((row) => row.v)).toEqual(["rows: 2"]);
  });

  it("runs only the steps appended since, in order", () => {
    const { sql } = memorySql();
    runMigrations(sql, steps.slice(0, 1));
    expect(runMigrations(sql, steps)).toEqual([2, 3]);
    expect(recorded(sql)).toEqual([1, 2, 3]);
  });

  it("leaves no trace of a step that fails, so the next start runs it again", () => {
    const { sql } = memorySql();
    const broken: Migration[] = [steps[0]!, { id: 2, name: "half", up: ["CREATE TABLE half (v)", "INSERT INTO nowhere VALUES (1)"] }];
    expect(() => runMigrations(sql, broken)).toThrow(/nowhere/);
    expect(recorded(sql)).toEqual([1]);
    expect(tables(sql)).not.toContain("half");
  });

  it("lays a new database from a baseline, then runs the steps after it; a database already laid ignores the baseline", () => {
    const first = memorySql().sql;
    runMigrations(first, steps.slice(0, 2));
    const baseline = { through: 2, statements: schemaStatements(first) };
    const { sql } = memorySql();
    expect(runMigrations(sql, steps, baseline)).toEqual([1, 2, 3]);
    expect(recorded(sql)).toEqual([1, 2, 3]);
    // the rows came with the baseline; step 3 counted them, and the trigger laid by the baseline fired
    expect(sql.all<{ v: string }>("SELECT v FROM t").map((row) => row.v)).toEqual(["a;b", "CREATE TRIGGER x; END", "rows: 2"]);
    expect(sql.all<{ v: string }>("SELECT v FROM log").map((row) => row.v)).toEqual(["rows: 2"]);

    const older = memorySql().sql;
    runMigrations(older, steps.slice(0, 1));
    older.exec("INSERT INTO t VALUES ('kept')");
    expect(runMigrations(older, steps, baseline)).toEqual([2, 3]);
    expect(older.all<{ v: string }>("SELECT v FROM t").map((row) => row.v)).toContain("kept");
  });

  it("refuses a list not numbered 1, 2, 3… in order", () => {
    const { sql } = memorySql();
    expect(() => runMigrations(sql, [steps[0]!, steps[2]!])).toThrow(/has id 3 at position 2/);
    expect(tables(sql)).toEqual([]);
  });
});
