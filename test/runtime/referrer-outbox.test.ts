/** The referrer outbox (references.ts) on plain SQLite: bounded steps, cursors, at least once. */
import { describe, expect, it } from "vitest";
import { openDatabase } from "../../src/runtime/adapters/node-sqlite";
import { SqlStorage } from "../../src/runtime/sql-storage";
import { migrate } from "../../src/unit/migrations";
import { Queue } from "../../src/unit/queue";
import { ReferenceStore } from "../../src/unit/references";
import { Sql, type UnitStorage } from "../../src/unit/sql";

function store() {
  const storage = new SqlStorage(() => openDatabase(":memory:"));
  const sql = new Sql({ sql: storage, transactionSync: <T>(fn: () => T) => storage.transactionSync(fn) } as unknown as UnitStorage);
  migrate(sql);
  const queue = new Queue(sql);
  const references = new ReferenceStore(sql, queue);
  const queued = () => sql.all<{ scope: string; key: string }>("SELECT scope, key FROM queue ORDER BY scope, key");
  return { sql, queue, references, queued };
}

/** `count` books referencing authors/a1. */
function books(references: ReferenceStore, count: number): string[] {
  const keys = Array.from({ length: count }, (_, i) => `b${String(i).padStart(4, "0")}`);
  for (const key of keys) references.set("books", key, "authorId", "authors", ["a1"]);
  return keys;
}

describe("the referrer outbox", () => {
  it("queues a change's referrers in steps of at most the limit, in key order, until none is left", () => {
    const { references, queued } = store();
    const keys = books(references, 25);
    references.noteChange("authors", "a1", 1);
    expect(queued()).toEqual([]);
    const sizes: number[] = [];
    let more = true;
    while (more) {
      const before = queued().length;
      more = references.queueReferrers(["books"], 10);
      sizes.push(queued().length - before);
    }
    expect(sizes).toEqual([10, 10, 5]);
    expect(queued().map((row) => row.key)).toEqual(keys);
    expect(references.waiting()).toBe(false);
  });

  it("queues only the scopes with a pipeline, never the writer, at the change's hops", () => {
    const { sql, references, queued } = store();
    books(references, 3);
    references.set("films", "f1", "authorId", "authors", ["a1"]);
    references.noteChange("authors", "a1", 2, { scope: "books", key: "b0001" });
    expect(references.queueReferrers(["books"])).toBe(false);
    expect(queued()).toEqual([
      { scope: "books", key: "b0000" },
      { scope: "books", key: "b0002" },
    ]);
    expect(sql.all("SELECT DISTINCT hops FROM queue")).toEqual([{ hops: 2 }]);
  });

  it("keeps one unstarted row per change, and lets a second in once the first has started", () => {
    const { sql, references, queued } = store();
    books(references, 30);
    references.noteChange("authors", "a1", 0);
    references.noteChange("authors", "a1", 0);
    expect(sql.first<{ n: number }>("SELECT count(*) AS n FROM referrer_outbox")?.n).toBe(1);
    references.queueReferrers(["books"], 10);
    // the first ten have been queued and may run before the new change: they must be queued again for it
    sql.exec("DELETE FROM queue");
    references.noteChange("authors", "a1", 0);
    expect(sql.first<{ n: number }>("SELECT count(*) AS n FROM referrer_outbox")?.n).toBe(2);
    while (references.queueReferrers(["books"], 10));
    expect(queued()).toHaveLength(30);
  });

  it("counts a change with no referrer to queue (its referrers' scope has no pipeline) towards the step, so a step stays bounded", () => {
    const { sql, references } = store();
    for (let i = 0; i < 50; i++) {
      references.set("films", `f${i}`, "authorId", "authors", [`unpiped-${i}`]);
      references.noteChange("authors", `unpiped-${i}`, 0);
    }
    expect(references.queueReferrers(["books"], 20)).toBe(true);
    expect(sql.first<{ n: number }>("SELECT count(*) AS n FROM referrer_outbox")?.n).toBe(30);
  });

  it("notes no change of a key nothing references: a load of new records leaves the outbox empty", () => {
    const { sql, references } = store();
    for (let i = 0; i < 50; i++) references.noteChange("authors", `nobody-${i}`, 0);
    expect(sql.first<{ n: number }>("SELECT count(*) AS n FROM referrer_outbox")?.n).toBe(0);
    expect(references.queueReferrers(["books"], 20)).toBe(false);
  });
});
