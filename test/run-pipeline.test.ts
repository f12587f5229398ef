/**
 * Pipeline execution on its own, without a storage unit: modules in order, the lanes of
 * `concurrency`, failures, the batch events, and the yields between items.
 */
import { describe, expect, it } from "vitest";
import { errorText, Item, runPipeline } from "../src/modules/run-pipeline";
import type { ModuleInstance, PipelineItem } from "../src/modules/types";
import { YieldBudget } from "../src/yield-budget";

const items = (count: number, scope = "raw"): Item[] =>
  Array.from({ length: count }, (_, i) => new Item(scope, { key: `k${i}`, hops: 0, content: JSON.stringify({ n: i }), version: i + 1 }));

/** A module that logs every event it sees under `name`. */
function logging(name: string, log: string[], process?: (item: PipelineItem) => void | Promise<void>): ModuleInstance {
  return {
    batchStart: (batch) => void log.push(`${name}:start:${batch.length}`),
    process: (item) => {
      log.push(`${name}:${item.key}`);
      return process?.(item);
    },
    batchEnd: (batch) => void log.push(`${name}:end:${batch.length}`),
  };
}

const never = () => new YieldBudget({ ms: Infinity, bytes: Infinity });
const turn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe("runPipeline", () => {
  it("runs BatchStart, each item through the modules in order, then BatchEnd", async () => {
    const log: string[] = [];
    await runPipeline([logging("a", log), logging("b", log)], items(2), 1, never());
    expect(log).toEqual(["a:start:2", "b:start:2", "a:k0", "b:k0", "a:k1", "b:k1", "a:end:2", "b:end:2"]);
  });

  it("hands each module the document the one before it left", async () => {
    const batch = items(1);
    const add = (field: string): ModuleInstance => ({
      process: (item) => {
        item.document = { ...item.document, [field]: Object.keys(item.document!).length };
      },
    });
    await runPipeline([add("a"), add("b")], batch, 1, never());
    expect(batch[0]!.document).toEqual({ n: 0, a: 1, b: 2 });
  });

  it("keeps at most `concurrency` items in flight", async () => {
    let inFlight = 0;
    let most = 0;
    const slow: ModuleInstance = {
      async process() {
        most = Math.max(most, ++inFlight);
        await turn();
        inFlight--;
      },
    };
    await runPipeline([slow], items(10), 3, never());
    expect(most).toBe(3);
  });

  it("skips the later modules for an item that failed, and no other", async () => {
    const log: string[] = [];
    const failOne = logging("a", log, (item) => (item.key === "k1" ? item.fail("bad k1") : undefined));
    const batch = items(3);
    await runPipeline([failOne, logging("b", log)], batch, 1, never());
    expect(log.filter((line) => line.startsWith("b:k"))).toEqual(["b:k0", "b:k2"]);
    expect(batch.map((item) => item.failure)).toEqual([undefined, "bad k1", undefined]);
  });

  it("rejects when a module throws, so the batch fails as a whole", async () => {
    const throwing: ModuleInstance = {
      process: (item) => {
        if (item.key === "k1") throw new TypeError("broken module");
      },
    };
    const outcome = await runPipeline([throwing], items(3), 1, never()).catch((error: unknown) => error);
    expect(errorText(outcome)).toBe("TypeError: broken module");
  });

  it("a delete reaches the modules with no document and no version", async () => {
    const item = new Item("raw", { key: "gone", hops: 2, content: null, version: 7 });
    expect(item).toMatchObject({ kind: "delete", document: null, version: null, hops: 2 });
  });

  /** Runs 40 synchronous items under `budget` beside a 0 ms timer; returns the timer's count as each item saw it. */
  async function timerTicksSeen(budget: YieldBudget): Promise<number[]> {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const seen: number[] = [];
    const sync: ModuleInstance = { process: () => void seen.push(ticks) };
    await runPipeline([sync], items(40), 4, budget);
    clearInterval(timer);
    return seen;
  }

  it("yields to the event loop between synchronous items once a timed budget is spent", async () => {
    // every item costs at least 512 bytes: a budget of 1024 is spent every two items
    const seen = await timerTicksSeen(new YieldBudget({ ms: 60_000, bytes: 1024 }));
    // a timer callback got in between the items: they did not run as one block
    expect(seen[0]).toBe(0);
    expect(seen[seen.length - 1]).toBeGreaterThan(0);
  });

  it("where the clock stands still (Workers), runs a batch whole and leaves its bytes for the job's next yield", async () => {
    const budget = new YieldBudget({ ms: Number.POSITIVE_INFINITY, bytes: 1024 });
    const seen = await timerTicksSeen(budget);
    expect(new Set(seen)).toEqual(new Set([0]));
    // 40 items of at least 512 bytes: the job's check before its next batch yields
    expect(budget.ready()).toBeInstanceOf(Promise);
  });

  it("yields by the clock where it moves", async () => {
    let now = 0;
    const budget = new YieldBudget({ ms: 4, bytes: Infinity }, () => now);
    let turns = 0;
    const sync: ModuleInstance = {
      process: () => {
        now += 1;
      },
    };
    const run = runPipeline([sync], items(20), 1, budget);
    const counting = (async () => {
      while (now < 20) {
        await turn();
        turns++;
      }
    })();
    await Promise.all([run, counting]);
    // 20 ms of work in slices of 4: the timer loop got about five turns in, not one at the end
    expect(turns).toBeGreaterThanOrEqual(4);
  });
});
