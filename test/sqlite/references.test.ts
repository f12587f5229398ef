/**
 * The references between records on plain SQLite (src/unit/references.ts, src/unit/read-across.ts):
 * what a referrer's shard keeps and sends, what a referenced key's shard keeps, the steps of
 * the referrer outbox, and a module's read over several shards.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { readAcross, type ReadPart } from "../../src/unit/read-across";
import type { ShardLayout } from "../../src/routing/layout";
import { newSeed, shardOf } from "../../src/routing/placement";
import { migrate } from "../../src/unit/migrations";
import { Queue } from "../../src/unit/queue";
import { ReferenceStore, type Placement } from "../../src/unit/references";
import type { Sql } from "../../src/unit/sql";
import { memorySql } from "./sqlite";

let sql: Sql;
let placement: Placement;
let references: ReferenceStore;

beforeEach(() => {
  sql = memorySql().sql;
  migrate(sql);
  placement = { shard: 0, layout: { shards: 1, splitTo: null } };
  references = new ReferenceStore(sql, new Queue(sql), () => placement);
});

const referrersOf = (refKey: string) =>
  sql.all("SELECT scope, key, via FROM record_referrers WHERE ref_scope = 'authors' AND ref_key = ? ORDER BY key", refKey);
const outbox = () => sql.all("SELECT id, key, ref_key, present FROM reference_outbox ORDER BY id");

/** A unit of 8 shards as one is created now: with its own placement seed. */
const EIGHT: ShardLayout = { shards: 8, splitTo: null, seed: newSeed() };

/** Keys named `a<n>` on shard `shard` of {@link EIGHT}, or off it. */
function keysOn(shard: number, count: number, on = true): string[] {
  const keys: string[] = [];
  for (let n = 0; keys.length < count; n++) if ((shardOf(`a${n}`, 8, EIGHT) === shard) === on) keys.push(`a${n}`);
  return keys;
}

describe("references on one shard", () => {
  it("keep both ways locally and write only what changed", () => {
    references.set("books", "b1", "authorId", "authors", ["a1", "a2"]);
    references.set("books", "b2", "authorId", "authors", ["a1"]);
    expect(referrersOf("a1")).toEqual([
      { scope: "books", key: "b1", via: "authorId" },
      { scope: "books", key: "b2", via: "authorId" },
    ]);
    references.set("books", "b1", "authorId", "authors", ["a2", "a3"]);
    expect(referrersOf("a1")).toEqual([{ scope: "books", key: "b2", via: "authorId" }]);
    expect(referrersOf("a3")).toEqual([{ scope: "books", key: "b1", via: "authorId" }]);
    references.set("books", "b1", "authorId", "authors", []);
    expect(referrersOf("a2")).toEqual([]);
    expect(outbox()).toEqual([]);
  });

  it("set for a batch in one call: each item's references replaced, other items' and other vias' kept", () => {
    references.set("books", "b1", "authorId", "authors", ["a1", "a2"]);
    references.set("books", "b3", "authorId", "authors", ["a1"]);
    references.set("books", "b1", "editorId", "authors", ["a1"]);
    references.setMany("authorId", "authors", [
      { scope: "books", key: "b1", refKeys: ["a2", "a3"] },
      { scope: "books", key: "b2", refKeys: ["a1", "a3"] },
    ]);
    expect(referrersOf("a1")).toEqual([
      { scope: "books", key: "b1", via: "editorId" },
      { scope: "books", key: "b2", via: "authorId" },
      { scope: "books", key: "b3", via: "authorId" },
    ]);
    expect(referrersOf("a2")).toEqual([{ scope: "books", key: "b1", via: "authorId" }]);
    expect(referrersOf("a3")).toEqual([
      { scope: "books", key: "b1", via: "authorId" },
      { scope: "books", key: "b2", via: "authorId" },
    ]);
    references.setMany("authorId", "authors", [
      { scope: "books", key: "b1", refKeys: [] },
      { scope: "books", key: "b2", refKeys: ["a3"] },
    ]);
    expect(referrersOf("a3")).toEqual([{ scope: "books", key: "b2", via: "authorId" }]);
    expect(referrersOf("a2")).toEqual([]);
  });

  it("queue no referrers and leave the outbox empty when no change is noted", () => {
    expect(references.queueReferrers(["books"])).toBe(false);
    expect(references.nextReferrers(["books"])).toEqual([]);
    references.set("books", "b1", "authorId", "authors", ["a1"]);
    references.noteChange("authors", "a1", 0);
    expect(references.queueReferrers(["books"])).toBe(false);
    expect(sql.all("SELECT scope, key FROM queue")).toEqual([{ scope: "books", key: "b1" }]);
  });
});

describe("references on shard 0 of 8", () => {
  beforeEach(() => {
    placement = { shard: 0, layout: EIGHT };
  });

  it("keep the reverse rows of local keys here and send the others, the latest state of each once", () => {
    const [local] = keysOn(0, 1);
    const [remote, other] = keysOn(0, 2, false);
    references.set("books", "b1", "authorId", "authors", [local!, remote!]);
    expect(referrersOf(local!)).toEqual([{ scope: "books", key: "b1", via: "authorId" }]);
    expect(referrersOf(remote!)).toEqual([]);
    const [sent] = outbox() as Array<{ id: number }>;
    expect(outbox()).toEqual([{ id: sent!.id, key: "b1", ref_key: remote, present: 1 }]);
    // a delivery in flight while the reference is dropped: the drop is a new row, which stays
    const inFlight = references.outgoing();
    references.set("books", "b1", "authorId", "authors", [other!]);
    references.delivered(inFlight);
    expect(referrersOf(local!)).toEqual([]);
    expect(outbox().map((row) => [row.ref_key, row.present])).toEqual([
      [remote, 0],
      [other, 1],
    ]);
    expect(references.outgoingFor("authors", [other!]).map((row) => row.ref_key)).toEqual([other]);
    expect(references.waiting()).toBe(true);
  });

  it("set and drop reverse rows as they arrive, twice as once", () => {
    const rows = [
      { scope: "books", key: "b1", via: "authorId", ref_scope: "authors", ref_key: "a1", present: 1 },
      { scope: "books", key: "b2", via: "authorId", ref_scope: "authors", ref_key: "a1", present: 1 },
    ];
    references.apply(rows);
    references.apply(rows);
    expect(referrersOf("a1")).toHaveLength(2);
    references.apply([{ ...rows[0]!, present: 0 }]);
    references.apply([{ ...rows[0]!, present: 0 }]);
    expect(referrersOf("a1")).toEqual([{ scope: "books", key: "b2", via: "authorId" }]);
  });

  it("mark the changes a step takes, so that one noted before it ends gets a row of its own", () => {
    references.apply([{ scope: "books", key: "b1", via: "authorId", ref_scope: "authors", ref_key: "a1", present: 1 }]);
    references.noteChange("authors", "a1", 0);
    references.noteChange("authors", "a1", 0);
    const steps = references.nextReferrers(["books"]);
    expect(steps).toEqual([{ id: expect.any(Number), hops: 0, referrers: [{ scope: "books", key: "b1" }], done: true }]);
    // noted while the step's referrers travel to their shard
    references.noteChange("authors", "a1", 0);
    references.advance(steps);
    expect(sql.all("SELECT ref_key, started FROM referrer_outbox")).toEqual([{ ref_key: "a1", started: 0 }]);
  });

  it("delete a reverse row by its key, through the primary key", () => {
    const plan = sql.all<{ detail: string }>(
      `EXPLAIN QUERY PLAN DELETE FROM record_referrers WHERE (ref_scope, ref_key, scope, key, via) IN
         (SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?))`,
      "[]",
    );
    expect(plan.map((row) => row.detail).join("\n")).not.toMatch(/SCAN record_referrers/);
  });
});

describe("a read over several shards", () => {
  /** Shards that hold `contents` by key, each answering as records.contentsJson does within its share; rounds are logged. */
  function shards(contents: Record<string, string>, shardOfKey: (key: string) => number, rounds: number[][]) {
    return (keys: string[]) =>
      async (positions: number[], bytesLeft: number): Promise<ReadPart[]> => {
        rounds.push(positions);
        const groups = new Map<number, number[]>();
        for (const position of positions) {
          const shard = shardOfKey(keys[position]!);
          groups.set(shard, [...(groups.get(shard) ?? []), position]);
        }
        const share = Math.floor(bytesLeft / groups.size);
        return [...groups.values()].map((group) => {
          const reached: Array<string | null> = [];
          let total = 0;
          for (const position of group) {
            if (total > share) break;
            const content = contents[keys[position]!] ?? null;
            reached.push(content);
            total += content?.length ?? 0;
          }
          return { positions: group, contents: reached };
        });
      };
  }

  it("answers in the order of the keys, a key twice twice, missing ones undefined, in one round", async () => {
    const rounds: number[][] = [];
    const keys = ["k3", "nobody", "k1", "k3", "k7"];
    const read = await readAcross(keys, 1000, shards({ k1: '"one"', k3: '"three"', k7: '"seven"' }, (key) => shardOf(key, 8, EIGHT), rounds)(keys));
    expect(read).toEqual({ contents: ['"three"', undefined, '"one"', '"three"', '"seven"'], bytes: 26 });
    expect(rounds).toHaveLength(1);
  });

  it("ends at the content that passed the budget, reading on where a shard stopped within its share", async () => {
    const rounds: number[][] = [];
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
    const contents = Object.fromEntries(keys.map((key) => [key, `"${"x".repeat(98)}"`]));
    // the first twelve keys on one shard, the rest on another: the first shard stops within its half
    const read = await readAcross(keys, 1050, shards(contents, (key) => (Number(key.slice(1)) < 12 ? 0 : 1), rounds)(keys));
    // 11 contents of 100 bytes: the 11th passed 1050
    expect(read.contents).toHaveLength(11);
    expect(read.bytes).toBe(1100);
    expect(rounds.length).toBeGreaterThan(1);
  });
});
