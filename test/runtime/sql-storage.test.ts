/** `ctx.storage.sql` and `transactionSync` of the self-hosted objects, on Node's SQLite. */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/runtime/adapters/node-sqlite";
import { holdsSeveralStatements, SqlStorage } from "../../src/runtime/sql-storage";

function storage(): SqlStorage {
  const sql = new SqlStorage(() => openDatabase(":memory:"));
  sql.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v)");
  return sql;
}

const values = (sql: SqlStorage) =>
  sql
    .exec<{ k: string }>("SELECT k FROM t ORDER BY k")
    .toArray()
    .map((row) => row.k);

describe("sql.exec", () => {
  it("runs the statement when called, so changes() right after sees the write", () => {
    const sql = storage();
    sql.exec("INSERT INTO t VALUES (?, ?), (?, ?)", "a", 1, "b", 2);
    expect(sql.exec<{ n: number }>("SELECT changes() AS n").one().n).toBe(2);
    expect(sql.exec("SELECT * FROM t WHERE k = ?", "b").toArray()).toEqual([{ k: "b", v: 2 }]);
  });

  it("databaseSize counts stored pages as Workers does: writes in a transaction count, freed pages do not", () => {
    const sql = storage();
    const empty = sql.databaseSize;
    expect(empty).toBeGreaterThan(0);
    sql.transactionSync(() => {
      sql.exec("INSERT INTO t VALUES ('big', ?)", "x".repeat(200_000));
      expect(sql.databaseSize).toBeGreaterThan(empty + 190_000);
    });
    sql.exec("DELETE FROM t");
    expect(sql.databaseSize).toBeLessThan(empty + 50_000);
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
    expect(
      sql.transactionSync(() => {
        sql.exec("INSERT INTO t VALUES ('a', 1)");
        return "done";
      }),
    ).toBe("done");
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

describe("a file that does not exist yet", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** `failures`: how many opens of the file fail first, as at the process's limit of open files. */
  function lazyStorage(failures = 0) {
    const dir = mkdtempSync(join(tmpdir(), "restage-lazy-"));
    dirs.push(dir);
    const path = join(dir, "object.sqlite");
    let left = failures;
    const open = () => {
      if (left-- > 0) throw new Error("unable to open database file");
      return openDatabase(path);
    };
    const sql = new SqlStorage(open, { exists: () => existsSync(path), openEmpty: () => openDatabase(":memory:") });
    return { sql, path };
  }

  it("answers reads as an empty database and leaves no file", () => {
    const { sql, path } = lazyStorage();
    expect(sql.exec("SELECT name FROM sqlite_master").toArray()).toEqual([]);
    expect(() => sql.exec("SELECT * FROM t")).toThrow(/no such table/);
    sql.transactionSync(() => sql.exec("SELECT 1 AS one").toArray());
    sql.close();
    expect(existsSync(path)).toBe(false);
  });

  it("is created by the first write, which lands in it", () => {
    const { sql, path } = lazyStorage();
    sql.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v)");
    expect(existsSync(path)).toBe(true);
    sql.exec("INSERT INTO t VALUES ('a', 1)");
    expect(sql.exec<{ n: number }>("SELECT changes() AS n").one().n).toBe(1);
    expect(values(sql)).toEqual(["a"]);
  });

  it("keeps transaction semantics when the first write comes inside nested transactions", () => {
    const { sql } = lazyStorage();
    sql.transactionSync(() => {
      sql.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v)");
      sql.exec("INSERT INTO t VALUES ('kept', 1)");
    });
    expect(() =>
      sql.transactionSync(() => {
        sql.exec("INSERT INTO t VALUES ('undone', 1)");
        throw new Error("roll back");
      }),
    ).toThrow("roll back");
    expect(values(sql)).toEqual(["kept"]);

    const other = lazyStorage();
    expect(() =>
      other.sql.transactionSync(() =>
        other.sql.transactionSync(() => {
          other.sql.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v)");
          throw new Error("roll back the first write");
        }),
      ),
    ).toThrow("roll back the first write");
    expect(other.sql.exec("SELECT name FROM sqlite_master").toArray()).toEqual([]);
  });

  it("a first write whose file cannot be opened fails alone: reads go on, close works, a later write creates the file", () => {
    const { sql, path } = lazyStorage(1);
    expect(() => sql.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v)")).toThrow("unable to open database file");
    expect(sql.exec("SELECT name FROM sqlite_master").toArray()).toEqual([]);
    sql.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v)");
    expect(existsSync(path)).toBe(true);
    sql.close();
    sql.close();

    const never = lazyStorage(1);
    expect(() => never.sql.exec("CREATE TABLE t (x)")).toThrow("unable to open database file");
    // what the idle sweeper does: closing must not throw (it ran in a timer and ended the process)
    expect(() => never.sql.close()).not.toThrow();
  });

  it("after reopen (deleteAll) with the file removed, waits for a write again", () => {
    const { sql, path } = lazyStorage();
    sql.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v)");
    sql.reopen(() => rmSync(path));
    expect(sql.exec("SELECT name FROM sqlite_master").toArray()).toEqual([]);
    expect(existsSync(path)).toBe(false);
    sql.exec("CREATE TABLE u (x)");
    expect(existsSync(path)).toBe(true);
  });
});
