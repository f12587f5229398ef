/** Access API: fetch, fetchMultiple (GET and POST), fetchPage; awkward keys; the read limits. */
import { beforeAll, describe, expect, it } from "vitest";
import { addRecord, call, createUnit, enc, ndjson, uniqueUnit } from "./helpers";

const utf8 = new TextEncoder();

/** Byte order of UTF-8, which is the order fetchPage promises (not JavaScript's UTF-16 order). */
function compareBytes(a: string, b: string): number {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** Keys that need care in paths, queries and ordering; the last one is exactly 512 UTF-8 bytes. */
const AWKWARD_KEYS = ["a/b", "with space", "100%", "%41", "a%2Fb", "a,b", "a+b", "q?x=1#h", "📦🎉", "é", "\uff61", `${"x".repeat(508)}📦`];

async function fetchAllPages(_unit: string, path: string, batchSize: number): Promise<{ keys: string[]; pages: Array<Record<string, any>> }> {
  const keys: string[] = [];
  const pages: Array<Record<string, any>> = [];
  let startId: string | undefined;
  for (;;) {
    const query = `batchSize=${batchSize}${startId === undefined ? "" : `&startId=${enc(startId)}`}`;
    const page = await call("GET", `${path}?${query}`);
    expect(page.status).toBe(200);
    pages.push(page.body);
    keys.push(...page.body.records.map((record: { key: string }) => record.key));
    if (page.body.nextStartId === undefined) return { keys, pages };
    startId = page.body.nextStartId;
  }
}

describe("access/fetch", () => {
  let unit: string;
  beforeAll(async () => {
    unit = await createUnit();
    await addRecord(unit, "raw", { key: "k", content: { a: 1 }, version: 5 });
    await addRecord(unit, "index", { key: "k", content: { i: [1, 2] }, version: 6 });
  });

  it("returns every scope of a record in the documented shape, through GET and POST", async () => {
    for (const method of ["GET", "POST"]) {
      const got = await call(method, `/access/fetch/${unit}/k`);
      expect(got.status).toBe(200);
      expect(got.body).toEqual({
        message: "OK",
        key: "k",
        content: { raw: { a: 1 }, index: { i: [1, 2] } },
        meta: { raw: { version: 5, updatedAt: expect.any(String) }, index: { version: 6, updatedAt: expect.any(String) } },
      });
      expect(new Date(got.body.meta.raw.updatedAt).toISOString()).toBe(got.body.meta.raw.updatedAt);
    }
  });

  it("returns one scope when asked, and every scope for $record", async () => {
    for (const method of ["GET", "POST"]) {
      const one = await call(method, `/access/fetch/${unit}/k/index`);
      expect(one.body.content).toEqual({ index: { i: [1, 2] } });
      expect(Object.keys(one.body.meta)).toEqual(["index"]);
      const all = await call(method, `/access/fetch/${unit}/k/$record`);
      expect(Object.keys(all.body.content).sort()).toEqual(["index", "raw"]);
    }
  });

  it("answers 404 KEY_NOT_FOUND for a missing key or scope", async () => {
    for (const path of [`/access/fetch/${unit}/nope`, `/access/fetch/${unit}/k/ocr`, `/access/fetch/${unit}/nope/$record`]) {
      const answer = await call("GET", path);
      expect(answer.status).toBe(404);
      expect(answer.body.message).toBe("KEY_NOT_FOUND");
    }
  });

  it("answers 404 STORAGE_UNIT_DOESNT_EXIST for a unit that was never created", async () => {
    const answer = await call("GET", `/access/fetch/${uniqueUnit()}/k`);
    expect(answer.status).toBe(404);
    expect(answer.body.message).toBe("STORAGE_UNIT_DOESNT_EXIST");
  });

  it("answers 400 naming the field for a bad unit, key or scope in the path", async () => {
    for (const [path, field] of [
      [`/access/fetch/-bad/k`, "path.unit"],
      [`/access/fetch/${unit}/${enc("a\u0007b")}`, "path.key"],
      [`/access/fetch/${unit}/${"y".repeat(513)}`, "path.key"],
      [`/access/fetch/${unit}/k/${enc("bad scope")}`, "path.scope"],
    ]) {
      const answer = await call("GET", path!);
      expect(answer.status).toBe(400);
      expect(answer.body.message).toBe("INVALID_REQUEST");
      expect(answer.body.detail).toContain(field);
    }
  });
});

describe("awkward keys", () => {
  let unit: string;
  beforeAll(async () => {
    unit = await createUnit();
    for (const key of AWKWARD_KEYS) await addRecord(unit, "raw", { key, content: { key } });
  });

  it("keeps the 512-byte key at exactly 512 UTF-8 bytes", () => {
    expect(utf8.encode(AWKWARD_KEYS.at(-1)!).length).toBe(512);
  });

  it.each(AWKWARD_KEYS.map((key) => [key.length > 40 ? "the 512-byte key" : key, key]))(
    "fetches %s through its percent-encoded path",
    async (_label, key) => {
      for (const method of ["GET", "POST"]) {
        const got = await call(method, `/access/fetch/${unit}/${enc(key!)}`);
        expect(got.status).toBe(200);
        expect(got.body.key).toBe(key);
        expect(got.body.content.raw).toEqual({ key });
        expect((await call(method, `/access/fetch/${unit}/${enc(key!)}/raw`)).body.key).toBe(key);
      }
    },
  );

  it("deletes an awkward key through execute", async () => {
    const own = await createUnit();
    await addRecord(own, "raw", { key: "a/b c%,📦", content: {} });
    expect((await call("PUT", `/transaction/execute/${own}/raw`, { key: "a/b c%,📦", action: "delete", policy: "mustexist" })).status).toBe(200);
    expect((await call("GET", `/access/fetch/${own}/${enc("a/b c%,📦")}`)).status).toBe(404);
  });

  it("fetches them all with GET ?keys= (split on ',', then decoded, so %2C is a comma in a key)", async () => {
    const got = await call("GET", `/access/fetchMultiple/${unit}?keys=${AWKWARD_KEYS.map(enc).join(",")}`);
    expect(got.status).toBe(200);
    expect(got.body.records.map((record: { key: string }) => record.key)).toEqual(AWKWARD_KEYS);
  });

  it("fetches them all with POST", async () => {
    const got = await call("POST", `/access/fetchMultiple/${unit}/raw`, { keys: AWKWARD_KEYS });
    expect(got.body.records.map((record: { key: string }) => record.key)).toEqual(AWKWARD_KEYS);
  });

  it("pages through them in UTF-8 byte order", async () => {
    const { keys } = await fetchAllPages(`${unit}`, `/access/fetchPage/${unit}`, 5);
    expect(keys).toEqual([...AWKWARD_KEYS].sort(compareBytes));
  });

  it("takes a startId that is an awkward key", async () => {
    const sorted = [...AWKWARD_KEYS].sort(compareBytes);
    for (const start of sorted) {
      const page = await call("GET", `/access/fetchPage/${unit}?batchSize=2&startId=${enc(start)}`);
      expect(page.body.records[0].key).toBe(start);
    }
  });
});

describe("access/fetchMultiple", () => {
  let unit: string;
  beforeAll(async () => {
    unit = await createUnit();
    await addRecord(unit, "raw", { key: "a", content: { n: "a" } });
    await addRecord(unit, "raw", { key: "b", content: { n: "b" } });
    await addRecord(unit, "index", { key: "b", content: { i: "b" } });
    await addRecord(unit, "raw", { key: "c", content: { n: "c" } });
  });

  it("returns records in the order asked, leaving out missing keys, through GET and POST", async () => {
    const viaGet = await call("GET", `/access/fetchMultiple/${unit}?keys=c,missing,a,b`);
    const viaPost = await call("POST", `/access/fetchMultiple/${unit}`, { keys: ["c", "missing", "a", "b"] });
    for (const got of [viaGet, viaPost]) {
      expect(got.status).toBe(200);
      expect(got.body.message).toBe("OK");
      expect(got.body.records.map((record: { key: string }) => record.key)).toEqual(["c", "a", "b"]);
      expect(got.body.records[2]).toEqual({
        key: "b",
        content: { raw: { n: "b" }, index: { i: "b" } },
        meta: {
          raw: { version: expect.any(Number), updatedAt: expect.any(String) },
          index: { version: expect.any(Number), updatedAt: expect.any(String) },
        },
      });
    }
  });

  it("returns only the scope asked, leaving out records without it; $record returns every scope", async () => {
    const index = await call("GET", `/access/fetchMultiple/${unit}/index?keys=a,b,c`);
    expect(index.body.records).toEqual([{ key: "b", content: { index: { i: "b" } }, meta: { index: expect.any(Object) } }]);
    const all = await call("POST", `/access/fetchMultiple/${unit}/$record`, { keys: ["b"] });
    expect(Object.keys(all.body.records[0].content).sort()).toEqual(["index", "raw"]);
  });

  it("returns an empty list when no key exists", async () => {
    expect((await call("GET", `/access/fetchMultiple/${unit}?keys=x,y`)).body).toEqual({ message: "OK", records: [] });
  });

  it("answers 400 naming keys for a missing or empty list", async () => {
    for (const [method, path, body] of [
      ["GET", `/access/fetchMultiple/${unit}`, undefined],
      ["GET", `/access/fetchMultiple/${unit}?keys=`, undefined],
      ["GET", `/access/fetchMultiple/${unit}?keys=a,,b`, undefined],
      ["POST", `/access/fetchMultiple/${unit}`, { keys: [] }],
      ["POST", `/access/fetchMultiple/${unit}`, {}],
      ["POST", `/access/fetchMultiple/${unit}`, { keys: "a,b" }],
    ] as const) {
      const answer = await call(method, path, body);
      expect(answer.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(answer.body.message).toBe("INVALID_REQUEST");
      expect(answer.body.detail).toContain("keys");
    }
  });

  it("answers 400 naming the body for POST without one", async () => {
    const answer = await call("POST", `/access/fetchMultiple/${unit}`);
    expect(answer.status).toBe(400);
    expect(answer.body.message).toBe("INVALID_REQUEST");
    expect(answer.body.detail).toMatch(/^body/);
  });

  it("answers 400 naming keys for a bad key in the list", async () => {
    const viaGet = await call("GET", `/access/fetchMultiple/${unit}?keys=a,${enc("b\u0000")}`);
    const viaPost = await call("POST", `/access/fetchMultiple/${unit}`, { keys: ["a", "z".repeat(513)] });
    for (const answer of [viaGet, viaPost]) {
      expect(answer.status).toBe(400);
      expect(answer.body.detail).toContain("keys.1");
    }
  });

  it("accepts 1,000 keys and refuses 1,001 with 400, through GET and POST", async () => {
    const keys = (n: number) => Array.from({ length: n }, (_, i) => (i === 0 ? "a" : `key-${i}`));
    const getAt = await call("GET", `/access/fetchMultiple/${unit}?keys=${keys(1000).join(",")}`);
    const postAt = await call("POST", `/access/fetchMultiple/${unit}`, { keys: keys(1000) });
    for (const answer of [getAt, postAt]) {
      expect(answer.status).toBe(200);
      expect(answer.body.records.map((record: { key: string }) => record.key)).toEqual(["a"]);
    }
    const getOver = await call("GET", `/access/fetchMultiple/${unit}?keys=${keys(1001).join(",")}`);
    const postOver = await call("POST", `/access/fetchMultiple/${unit}`, { keys: keys(1001) });
    for (const answer of [getOver, postOver]) {
      expect(answer.status).toBe(400);
      expect(answer.body.message).toBe("INVALID_REQUEST");
      expect(answer.body.detail).toContain("1000");
    }
  });

  it("answers 404 STORAGE_UNIT_DOESNT_EXIST for a unit that was never created", async () => {
    const answer = await call("POST", `/access/fetchMultiple/${uniqueUnit()}`, { keys: ["a"] });
    expect(answer.status).toBe(404);
    expect(answer.body.message).toBe("STORAGE_UNIT_DOESNT_EXIST");
  });
});

describe("access/fetchPage", () => {
  const TOTAL = 2500;
  // zero-padded so numeric and byte order agree; odd records also have an `index` scope
  const keyOf = (i: number) => `doc-${String(i).padStart(5, "0")}`;
  let unit: string;
  beforeAll(async () => {
    unit = await createUnit();
    const lines = [];
    for (let i = TOTAL - 1; i >= 0; i--) {
      lines.push({ action: "add", scope: "raw", key: keyOf(i), content: { i } });
      if (i % 2 === 1) lines.push({ action: "add", scope: "index", key: keyOf(i), content: { odd: i } });
    }
    lines.push(
      { action: "add", scope: "raw", key: "gone", content: {}, version: 1 },
      { action: "delete", scope: "$record", key: "gone", version: 2 },
    );
    const batch = await call("POST", `/transaction/batch/${unit}`, ndjson(lines));
    expect(batch.body.message).toBe("OK");
  });

  it("pages through 2,500 records with batchSize 1000: sorted, none missing, no duplicates, no nextStartId at the end", async () => {
    const { keys, pages } = await fetchAllPages(unit, `/access/fetchPage/${unit}`, 1000);
    expect(pages.map((page) => page.records.length)).toEqual([1000, 1000, 500]);
    expect(keys).toEqual(Array.from({ length: TOTAL }, (_, i) => keyOf(i)));
    expect(new Set(keys).size).toBe(TOTAL);
    expect("nextStartId" in pages.at(-1)!).toBe(false);
    expect(pages[0]!.records[1]).toEqual({
      key: keyOf(1),
      content: { raw: { i: 1 }, index: { odd: 1 } },
      meta: { raw: expect.any(Object), index: expect.any(Object) },
    });
  });

  it("pages through one scope only, with records holding only that scope", async () => {
    const { keys, pages } = await fetchAllPages(unit, `/access/fetchPage/${unit}/index`, 1000);
    expect(keys).toEqual(Array.from({ length: TOTAL / 2 }, (_, i) => keyOf(2 * i + 1)));
    expect(pages.length).toBe(2);
    for (const page of pages) for (const record of page.records) expect(Object.keys(record.content)).toEqual(["index"]);
  });

  it("pages with POST and with $record like GET without a scope", async () => {
    const viaPost = await call("POST", `/access/fetchPage/${unit}/$record?batchSize=3&startId=doc-00009`);
    expect(viaPost.status).toBe(200);
    expect(viaPost.body.records.map((record: { key: string }) => record.key)).toEqual([keyOf(9), keyOf(10), keyOf(11)]);
    expect(viaPost.body.nextStartId).toBe(keyOf(12));
    const noScope = await call("POST", `/access/fetchPage/${unit}?batchSize=2&startId=doc-00009`);
    expect(noScope.body).toEqual({ ...viaPost.body, records: viaPost.body.records.slice(0, 2), nextStartId: keyOf(11) });
  });

  it("returns 10 records by default", async () => {
    const page = await call("GET", `/access/fetchPage/${unit}`);
    expect(page.body.records.length).toBe(10);
    expect(page.body.nextStartId).toBe(keyOf(10));
  });

  it("never shows deleted records", async () => {
    const page = await call("GET", `/access/fetchPage/${unit}?startId=g&batchSize=5`);
    expect(page.body.records).toEqual([]);
    expect("nextStartId" in page.body).toBe(false);
  });

  it.each([
    ["1", 200],
    ["1000", 200],
    ["0", 400],
    ["1001", 400],
    ["-5", 400],
    ["2.5", 400],
    ["ten", 400],
  ] as const)("answers batchSize=%s with %i", async (size, status) => {
    const page = await call("GET", `/access/fetchPage/${unit}?batchSize=${size}`);
    expect(page.status).toBe(status);
    if (status === 400) {
      expect(page.body.message).toBe("INVALID_REQUEST");
      expect(page.body.detail).toContain("query.batchSize");
    } else {
      expect(page.body.records.length).toBe(Number(size));
    }
  });

  it("answers an empty last page for an empty unit", async () => {
    const empty = await createUnit();
    expect((await call("GET", `/access/fetchPage/${empty}`)).body).toEqual({ message: "OK", records: [] });
  });

  it("answers 404 STORAGE_UNIT_DOESNT_EXIST for a unit that was never created", async () => {
    const answer = await call("GET", `/access/fetchPage/${uniqueUnit()}`);
    expect(answer.status).toBe(404);
    expect(answer.body.message).toBe("STORAGE_UNIT_DOESNT_EXIST");
  });
});

describe("list response size", () => {
  const LIMIT = 8 * 1024 * 1024;
  // 12 records of 1 MiB each as UTF-8, written with a two-byte character so bytes and characters differ
  const keys = Array.from({ length: 12 }, (_, i) => `big-${String(i).padStart(2, "0")}`);
  const content = { s: "é".repeat((1024 * 1024 - 8) / 2) };
  let unit: string;
  beforeAll(async () => {
    unit = await createUnit();
    expect(utf8.encode(JSON.stringify(content)).length).toBe(1024 * 1024);
    const batch = await call("POST", `/transaction/batch/${unit}`, ndjson(keys.map((key) => ({ action: "add", scope: "raw", key, content }))));
    expect(batch.body).toEqual({ message: "OK", count: 12 });
  });

  const responseBytes = (body: unknown) => utf8.encode(JSON.stringify(body)).length;

  it("fetchPage stops before the response passes 8 MiB, and paging still reaches every record", async () => {
    const first = await call("GET", `/access/fetchPage/${unit}?batchSize=1000`);
    expect(responseBytes(first.body)).toBeLessThanOrEqual(LIMIT);
    expect(first.body.records.length).toBeLessThan(12);
    expect(first.body.nextStartId).toBe(keys[first.body.records.length]);
    const { keys: seen, pages } = await fetchAllPages(unit, `/access/fetchPage/${unit}`, 1000);
    expect(seen).toEqual(keys);
    for (const page of pages) expect(responseBytes(page)).toBeLessThanOrEqual(LIMIT);
  });

  it("fetchMultiple stops before the response passes 8 MiB, keeping the order asked", async () => {
    const asked = [...keys].reverse();
    const got = await call("POST", `/access/fetchMultiple/${unit}`, { keys: asked });
    expect(responseBytes(got.body)).toBeLessThanOrEqual(LIMIT);
    expect(got.body.records.length).toBeGreaterThan(0);
    expect(got.body.records.map((record: { key: string }) => record.key)).toEqual(asked.slice(0, got.body.records.length));
    // the keys it did not reach are named, so the client can ask for them again
    expect(got.body.remainingKeys).toEqual(asked.slice(got.body.records.length));
    const rest = await call("POST", `/access/fetchMultiple/${unit}`, { keys: got.body.remainingKeys });
    expect(rest.body.records[0].key).toBe(got.body.remainingKeys[0]);
  });

  it("fetchMultiple answers without remainingKeys when everything fits", async () => {
    const got = await call("POST", `/access/fetchMultiple/${unit}`, { keys: keys.slice(0, 2) });
    expect(got.body.records).toHaveLength(2);
    expect(got.body).not.toHaveProperty("remainingKeys");
  });
});
