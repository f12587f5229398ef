/**
 * Fairness of the lists users read (records.ts over ../../src/yield-budget.ts) on plain
 * SQLite: a page of large records is read in steps of about a slice, every step's bytes
 * count towards the reads' budget, and once a slice is used up the page waits for the event
 * loop's turn, so other work (another unit's status on a self-hosted server) gets in before
 * the page is done. The budget here counts bytes only, as inside Workers, where the clock
 * stands still: no timing, so the outcome is the same on every run.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { migrate } from "../../src/unit/migrations";
import { RecordStore } from "../../src/unit/records";
import { YieldBudget } from "../../src/yield-budget";
import { memorySql } from "./sqlite";

const MIB = 1024 * 1024;
/** A content of about 700 KB: within the 1 MiB a scope may hold, more than half a slice. */
const large = (n: number) => ({ n, text: "x".repeat(700_000) });

/** A budget of 1 MiB slices on a clock that never moves, noting its yields and the bytes counted. */
class CountingBudget extends YieldBudget {
  yields = 0;
  counted = 0;
  constructor() {
    super({ ms: Number.POSITIVE_INFINITY, bytes: MIB }, () => 0);
  }
  override ready(): Promise<void> | undefined {
    const wait = super.ready();
    if (wait) this.yields++;
    return wait;
  }
  override count(bytes: number): void {
    this.counted += bytes;
    super.count(bytes);
  }
}

let budget: CountingBudget;
let records: RecordStore;

beforeEach(() => {
  const { sql } = memorySql();
  migrate(sql);
  budget = new CountingBudget();
  records = new RecordStore(sql, {}, budget);
  for (let n = 0; n < 10; n++) records.addJson(`k${n}`, "raw", JSON.stringify(large(n)), "overwrite", 1);
});

describe("a page of large records", () => {
  it("counts every byte it reads and yields about once a slice, so it is many pieces of work", async () => {
    const page = await records.page(undefined, 100);
    expect(page.records).toHaveLength(10);
    expect(budget.counted).toBeGreaterThan(10 * 700_000);
    // 7 MB in slices of 1 MiB: a yield at least every other record
    expect(budget.yields).toBeGreaterThanOrEqual(5);
  });

  it("lets other work in before it is done", async () => {
    const order: string[] = [];
    const reading = records.page(undefined, 100).then(() => order.push("page"));
    // the next turn of the event loop: what another unit's status waits for
    setImmediate(() => order.push("other"));
    await reading;
    expect(order).toEqual(["other", "page"]);
  });

  it("reads every key of a list that mixes small and large records, in order, whatever the size of each step", async () => {
    for (let n = 0; n < 30; n++) records.addJson(`s${String(n).padStart(2, "0")}`, "raw", JSON.stringify({ n }), "overwrite", 1);
    records.addJson("s15", "raw", JSON.stringify(large(15)), "overwrite", 2);
    const keys = [...Array.from({ length: 30 }, (_, n) => `s${String(n).padStart(2, "0")}`), "k0", "k1"];
    expect((await records.page("s", 100)).records.map((record) => record.key)).toEqual(keys.slice(0, 30));
    expect(records.getMany(keys).records.map((record) => record.key)).toEqual(keys);
  });

  it("a list that cannot wait between its chunks (fetchMultiple) counts its bytes, so the next read waits", async () => {
    const { records: found } = records.getMany(["k1", "k2", "k3"]);
    expect(found).toHaveLength(3);
    expect(budget.counted).toBeGreaterThan(3 * 700_000);
    expect(budget.ready()).toBeInstanceOf(Promise);
    await records.turn();
    expect(budget.ready()).toBeUndefined();
  });
});
