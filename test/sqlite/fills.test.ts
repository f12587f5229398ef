/**
 * The fills of `reprocess/all` (src/unit/fills.ts, reading records through record-scan.ts)
 * on plain SQLite: the first chunk queued at the call, the rest claimed straight into
 * batches, keys already queued keeping their course, and the store's key order.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_REPROCESSING_SETTINGS } from "../../src/schemas";
import { FILL_CHUNK, Fills } from "../../src/unit/fills";
import { migrate } from "../../src/unit/migrations";
import { ASSIGNED, PENDING, Queue } from "../../src/unit/queue";
import type { Sql } from "../../src/unit/sql";
import { memorySql } from "./sqlite";

const T = 1_000_000;
let sql: Sql;
let queue: Queue;
let fills: Fills;

beforeEach(() => {
  sql = memorySql().sql;
  migrate(sql);
  queue = new Queue(sql);
  fills = new Fills(sql, queue);
});

/** Writes live records (content `{"n":i}`) straight into the table, as the record store lays them. */
function addRecords(scope: string, keys: string[], updatedAt = T): void {
  sql.exec(
    "INSERT INTO records (key, scope, content, version, updated_at) SELECT value ->> 0, ?, value ->> 1, 1, ? FROM json_each(?)",
    scope,
    updatedAt,
    JSON.stringify(keys.map((key, n) => [key, JSON.stringify({ n })])),
  );
}

const numbered = (count: number, prefix = "k") => Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(6, "0")}`);
const row = (key: string) =>
  sql.first<{ state: number; attempts: number; rerun: number; lease_token: string | null }>(
    "SELECT state, attempts, rerun, lease_token FROM queue WHERE key = ?",
    key,
  );

describe("a reprocess/all", () => {
  it("of one chunk or less queues it all at once and leaves no fill", () => {
    addRecords("raw", numbered(10));
    addRecords("raw", ["gone"]);
    sql.exec("UPDATE records SET content = NULL WHERE key = 'gone'");
    expect(fills.count({ scope: "raw" })).toBe(10);
    expect(fills.start({ scope: "raw" }, 10)).toBe(false);
    expect(queue.counts().pending).toBe(10);
    expect(fills.active()).toBe(false);
  });

  it("counts and queues only the keys of its prefix and those updated since", () => {
    addRecords("raw", ["a1", "a2", "b1"], T);
    addRecords("raw", ["a3"], T + 10);
    expect(fills.count({ scope: "raw", prefix: "a" })).toBe(3);
    expect(fills.count({ scope: "raw", prefix: "a", since: T + 10 })).toBe(1);
    fills.start({ scope: "raw", prefix: "a", since: T + 10 }, 1);
    expect(sql.all("SELECT key FROM queue")).toEqual([{ key: "a3" }]);
  });

  it("past its first chunk: claims the next keys into a batch, with their content; keys already queued keep their course", () => {
    const keys = numbered(FILL_CHUNK + 20);
    addRecords("raw", keys);
    const [pending, assigned, failed] = [keys[FILL_CHUNK + 1]!, keys[FILL_CHUNK + 2]!, keys[FILL_CHUNK + 3]!];
    queue.enqueue("raw", [failed], 0, T);
    queue.complete(queue.claim(10, 60_000, T)!, new Map([[failed, "no"]]), { ...DEFAULT_REPROCESSING_SETTINGS, maxAttempts: 1 }, T);
    queue.enqueue("raw", [assigned], 0, T);
    const running = queue.claim(10, 60_000, T)!;
    queue.enqueue("raw", [pending], 0, T);

    expect(fills.start({ scope: "raw" }, keys.length)).toBe(true);
    expect(fills.remaining()).toBe(20);
    expect(queue.counts()).toEqual({ pending: FILL_CHUNK + 1, assigned: 1, failed: 1 });

    const claim = fills.claim(1000, 60_000, T)!;
    expect(claim.items.map((item) => item.key)).toEqual(keys.slice(FILL_CHUNK).filter((key) => ![pending, assigned, failed].includes(key)));
    expect(claim.items[0]).toEqual({ key: keys[FILL_CHUNK], hops: 0, run: null, content: JSON.stringify({ n: FILL_CHUNK }), version: 1 });
    expect(row(keys[FILL_CHUNK]!)).toMatchObject({ state: ASSIGNED, attempts: 1, lease_token: claim.token });
    expect(row(assigned)).toMatchObject({ state: ASSIGNED, rerun: 1, lease_token: running.token });
    expect(row(failed)).toMatchObject({ state: PENDING, attempts: 0 });
    expect(row(pending)).toMatchObject({ state: PENDING });
    // its records exhausted, the fill is over
    expect(fills.active()).toBe(false);
    expect(fills.remaining()).toBe(0);
    expect(queue.counts()).toEqual({ pending: FILL_CHUNK + 2, assigned: 18, failed: 0 });
    expect(fills.claim(1000, 60_000, T)).toBeUndefined();
  });

  it("counts down what it has left as its keys are taken", () => {
    addRecords("raw", numbered(FILL_CHUNK + 2500));
    fills.start({ scope: "raw" }, FILL_CHUNK + 2500);
    expect(fills.remaining()).toBe(2500);
    expect(fills.claim(1000, 60_000, T)!.items).toHaveLength(1000);
    expect(fills.remaining()).toBe(1500);
    fills.claim(1000, 60_000, T);
    fills.claim(1000, 60_000, T);
    expect(fills.active()).toBe(false);
    expect(queue.counts()).toEqual({ pending: FILL_CHUNK, assigned: 2500, failed: 0 });
  });

  it("goes on after its first chunk in the store's key order, also for keys beyond U+FFFF", () => {
    // UTF-8 (the store's order) puts U+E000..U+FFFF before U+10000 and above; UTF-16 (JavaScript's <) puts them after
    const edge = ["k\uE000", "k\uFF21", "k\u{1F600}", "k\u{10FFFF}"];
    const keys = [...numbered(FILL_CHUNK - edge.length), ...edge, "l1", "l2"];
    addRecords("raw", keys);
    fills.start({ scope: "raw" }, keys.length);
    expect(fills.claim(1000, 60_000, T)!.items.map((item) => item.key)).toEqual(["l1", "l2"]);
  });

  it("called again with the same filter while it fills replaces the fill", () => {
    addRecords("raw", numbered(FILL_CHUNK + 10));
    fills.start({ scope: "raw" }, FILL_CHUNK + 10);
    fills.claim(5, 60_000, T);
    fills.start({ scope: "raw" }, FILL_CHUNK + 10);
    expect(sql.all("SELECT cursor, remaining FROM fills")).toEqual([{ cursor: numbered(FILL_CHUNK).at(-1), remaining: 10 }]);
    expect(fills.start({ scope: "raw", prefix: "k" }, FILL_CHUNK + 10)).toBe(true);
    expect(sql.first<{ n: number }>("SELECT count(*) AS n FROM fills")!.n).toBe(2);
    fills.clear();
    expect(fills.active()).toBe(false);
  });
});
