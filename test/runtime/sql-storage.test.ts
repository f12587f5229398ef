/** `ctx.storage.sql` and `transactionSync` of the self-hosted objects, on Node's SQLite. */
import { describe, expect, it } from "vitest";
import { openDatabase } from "../../src/runtime/adapters/node-sqlite";
import { holdsSeveralStatements, SqlStorage } from "../../src/runtime/sql-storage";

function storage(): SqlStorage {
  const sql = new SqlStorage(() => openDatabase(":memory:"));
  sql.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v)");
  return sql;
}

const values = (sql: SqlStorage) => sql.exec<{ k: string }>("SELECT k FROM t ORDER BY k").toArray().map((row) => row.k);

describe("sql.exec", () => {
  it("runs the statement when called, so changes() right after sees the write", () => {
    const sql = storage();
    sql.exec("INSERT INTO t VALUES (?, ?), (?, ?)", "a", 1, "b", 2);
    expect(sql.exec<{ n: number }>("SELECT changes() AS n").one().n).toBe(2);
    expect(sql.exec("SELECT * FROM t WHERE k = ?", "b").toArray()).toEqual([{ k: "b", v: 2 }]);
  });

  it("one() insists on exactly one row, as on Workers", () => {
    const sql = storage();
    expect(() => sql.exec("SELECT * FROM t").one()).toThrow(/no results/);
    sql.exec("INSERT INTO t VALUES ('a', 1), ('b', 2)");
    expect(() => sql.exec("SELECT * FROM t").one()).toThrow(/more than one/);
  });

  it("passes blobs as ArrayBuffer both ways, and iterates", () => {
    const sql = storage();
    sql.exec("INSERT INTO t VALUES (?, ?)", "bin", new Uint8Array([1, 2, 255]).buffer);
    const [row] = [...sql.exec<{ v: ArrayBuffer }>("SELECT v FROM t")];
    expect(row!.v).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(row!.v)]).toEqual([1, 2, 255]);
  });

  it("runs every statement of a text without bindings, where prepare alone would drop the tail", () => {
    const sql = storage();
    sql.exec("INSERT INTO t VALUES ('a;b', 1); INSERT INTO t VALUES ('c', 2);");
    expect(values(sql)).toEqual(["a;b", "c"]);
    expect(holdsSeveralStatements("SELECT 'x;y' AS s; -- a comment")).toBe(false);
    expect(holdsSeveralStatements("SELECT 1; /* c */ SELECT 2")).toBe(true);
  });
});

describe("transactionSync", () => {
  it("keeps every write of a callback that returns, and none of one that throws", () => {
    const sql = storage();
    expect(sql.transactionSync(() => (sql.exec("INSERT INTO t VALUES ('a', 1)"), "done"))).toBe("done");
    expect(() =>
      sql.transactionSync(() => {
        sql.exec("INSERT INTO t VALUES ('b', 1)");
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(values(sql)).toEqual(["a"]);
  });

  it("undoes only the inner writes when a nested failure is caught", () => {
    const sql = storage();
    sql.transactionSync(() => {
      sql.exec("INSERT INTO t VALUES ('outer', 1)");
      expect(() =>
        sql.transactionSync(() => {
          sql.exec("INSERT INTO t VALUES ('inner', 1)");
          throw new Error("inner");
        }),
      ).toThrow("inner");
    });
    expect(values(sql)).toEqual(["outer"]);
  });

  it("refuses an async callback and rolls its synchronous writes back", () => {
    const sql = storage();
    expect(() =>
      sql.transactionSync(async () => {
        sql.exec("INSERT INTO t VALUES ('a', 1)");
      }),
    ).toThrow(/synchronous callback/);
    expect(values(sql)).toEqual([]);
  });
});
