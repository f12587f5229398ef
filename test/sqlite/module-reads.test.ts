/**
 * What a module reads of its unit (`unit.readMany`, `unit.read`, src/unit/changes.ts over
 * records.ts) on plain SQLite: contents in the order asked, one statement per hundred keys,
 * reading stopped once past a byte bound without loading what follows, the bytes counted
 * towards the job's yield budget, and the event loop's turn between two chunks.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { Changes } from "../../src/unit/changes";
import type { UnitConfig } from "../../src/unit/config";
import { migrate } from "../../src/unit/migrations";
import { Queue } from "../../src/unit/queue";
import { RecordStore } from "../../src/unit/records";
import { ReferenceStore } from "../../src/unit/references";
import type { Sql } from "../../src/unit/sql";
import { YieldBudget } from "../../src/yield-budget";
import { memorySql } from "./sqlite";

const CREATED_AT = 1_000;
let sql: Sql;
let statements: string[];
let unit: UnitConfig | undefined;
let changes: Changes;

beforeEach(() => {
  const memory = memorySql();
  sql = memory.sql;
  migrate(sql);
  const records = new RecordStore(sql);
  const queue = new Queue(sql);
  unit = { createdAt: CREATED_AT } as UnitConfig;
  changes = new Changes(sql, records, new ReferenceStore(sql, queue), queue, () => unit);
  // every statement the reads run, to count them
  statements = [];
  const exec = memory.storage.exec.bind(memory.storage);
  memory.storage.exec = ((query: string, ...bindings: unknown[]) => {
    statements.push(query);
    return exec(query, ...bindings);
  }) as typeof memory.storage.exec;
});

/** Writes live records of `scope` straight into the table, as the record store lays them. */
function addRecords(scope: string, contents: Record<string, unknown>): void {
  sql.exec(
    "INSERT INTO records (key, scope, content, version, updated_at) SELECT value ->> 0, ?, value ->> 1, 1, 1 FROM json_each(?)",
    scope,
    JSON.stringify(Object.entries(contents).map(([key, content]) => [key, JSON.stringify(content)])),
  );
}

const utf8Bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length;
const never = () => new YieldBudget({ ms: Infinity, bytes: Infinity });
const readStatements = () => statements.filter((query) => query.includes("FROM json_each(?) AS wanted")).length;

describe("a module's reads of its unit", () => {
  it("give the contents in the order of the keys, undefined where missing, a key given twice twice", async () => {
    addRecords("authors", { a1: { name: "Ada" }, "42": { name: "Grace" }, a3: { name: "Émilie" } });
    addRecords("other", { a2: { name: "not this scope" } });
    const access = changes.moduleAccess(CREATED_AT, never());
    const read = await access.readMany(["42", "a2", "a1", "42", "nobody"], "authors");
    expect(read.contents).toEqual([{ name: "Grace" }, undefined, { name: "Ada" }, { name: "Grace" }, undefined]);
    expect(read.bytes).toBe(2 * utf8Bytes({ name: "Grace" }) + utf8Bytes({ name: "Ada" }));
    expect(await access.readMany([], "authors")).toEqual({ contents: [], bytes: 0 });
    expect(await access.read("a3", "authors")).toEqual({ name: "Émilie" });
    expect(await access.read("a2", "authors")).toBeUndefined();
  });

  it("read a thousand records with one statement per hundred keys", async () => {
    const keys = Array.from({ length: 1000 }, (_, i) => `r${String(999 - i).padStart(4, "0")}`);
    addRecords("ref", Object.fromEntries(keys.filter((_, i) => i % 7 !== 0).map((key) => [key, { key }])));
    statements = [];
    const read = await changes.moduleAccess(CREATED_AT, never()).readMany(keys, "ref");
    expect(read.contents).toEqual(keys.map((key, i) => (i % 7 === 0 ? undefined : { key })));
    expect(readStatements()).toBe(10);
    expect(statements.length).toBe(10);
  });

  it("stop at the record that passes maxBytes, loading nothing after it", async () => {
    const big = { text: "é".repeat(10_000) }; // 20,011 bytes as UTF-8 JSON
    const keys = Array.from({ length: 250 }, (_, i) => `k${String(i).padStart(3, "0")}`);
    addRecords("ref", Object.fromEntries(keys.map((key) => [key, big])));
    statements = [];
    const access = changes.moduleAccess(CREATED_AT, never());
    // 1.5 records' worth: the second passes it
    const stopped = await access.readMany(["missing", ...keys], "ref", { maxBytes: 1.5 * utf8Bytes(big) });
    expect(stopped.contents).toEqual([undefined, big, big]);
    expect(stopped.bytes).toBe(2 * utf8Bytes(big));
    expect(readStatements()).toBe(1);
    // exactly at the bound is not past it: the next chunks are read on
    statements = [];
    const fits = await access.readMany(keys.slice(0, 150), "ref", { maxBytes: 150 * utf8Bytes(big) });
    expect(fits.contents.length).toBe(150);
    expect(fits.bytes).toBe(150 * utf8Bytes(big));
    expect(readStatements()).toBe(2);
    // a bound passed in a later chunk stops there
    statements = [];
    const later = await access.readMany(keys, "ref", { maxBytes: 120 * utf8Bytes(big) });
    expect(later.contents.length).toBe(121);
    expect(readStatements()).toBe(2);
  });

  it("count the bytes read towards the yield budget, and let the event loop in between two chunks", async () => {
    const content = { text: "x".repeat(1000) };
    const keys = Array.from({ length: 300 }, (_, i) => `k${i}`);
    addRecords("ref", Object.fromEntries(keys.map((key) => [key, content])));
    // a budget of 50 KB: a chunk of a hundred 1 KB records uses it up
    const budget = new YieldBudget({ ms: Infinity, bytes: 50_000 });
    const turns: number[] = [];
    let reads = 0;
    const tick = () => {
      turns.push(readStatements());
      if (++reads < 10) setImmediate(tick);
    };
    statements = [];
    setImmediate(tick);
    const read = await changes.moduleAccess(CREATED_AT, budget).readMany(keys, "ref");
    expect(read.contents.length).toBe(300);
    // other work ran after the first chunk and after the second, before the read was done
    expect(turns.slice(0, 3)).toEqual([1, 2, 3]);
  });

  it("find nothing once the unit is deleted, even if one is created again under its name", async () => {
    addRecords("authors", { a1: { name: "Ada" } });
    const access = changes.moduleAccess(CREATED_AT, never());
    unit = { createdAt: CREATED_AT + 1 } as UnitConfig;
    expect(await access.readMany(["a1", "a2"], "authors")).toEqual({ contents: [undefined, undefined], bytes: 0 });
    unit = undefined;
    expect(await access.read("a1", "authors")).toBeUndefined();
  });
});
