/**
 * Every transition of the queue's state machine (DESIGN.md, "Queue state machine"; API.md,
 * "Queue semantics") on plain SQLite: the unit's schema laid by its migrations, a `Queue`
 * over it, the clock passed in. The job that drives these transitions is tested in the
 * Workers runtime (test/queue-semantics.test.ts, test/job.test.ts).
 */
import { beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_REPROCESSING_SETTINGS, type ReprocessingSettings } from "../../src/schemas";
import { migrate } from "../../src/unit/migrations";
import { ASSIGNED, FAILED, LEASE_EXPIRED, PENDING, Queue, RUN_DIED } from "../../src/unit/queue";
import type { Sql } from "../../src/unit/sql";
import { memorySql } from "./sqlite";

type Row = {
  scope: string;
  key: string;
  state: number;
  attempts: number;
  next_run_at: number;
  lease_token: string | null;
  rerun: number;
  hops: number;
  last_error: string | null;
  failed_at: number | null;
};

const T = 1_000_000;
const settings: ReprocessingSettings = { ...DEFAULT_REPROCESSING_SETTINGS, maxAttempts: 3, backoffMs: 100, maxBackoffMs: 350 };
const none = new Map<string, string>();

let sql: Sql;
let queue: Queue;

beforeEach(() => {
  sql = memorySql().sql;
  migrate(sql);
  queue = new Queue(sql);
});

const row = (key: string, scope = "raw") => sql.first<Row>("SELECT * FROM queue WHERE scope = ? AND key = ?", scope, key);
const keysIn = (state: number) => sql.all<{ key: string }>("SELECT key FROM queue WHERE state = ? ORDER BY scope, key", state).map((r) => r.key);

/** Queues `key` and fails it on every attempt until it is failed for good. */
function failForGood(key: string, scope = "raw", error = "no"): void {
  queue.enqueue(scope, [key], 0, T);
  for (let attempt = 1; attempt <= settings.maxAttempts; attempt++) {
    const claim = queue.claim(10, 1000, T + 1_000_000 * attempt)!;
    queue.complete(claim, new Map([[key, error]]), settings, T + 1_000_000 * attempt);
  }
  expect(row(key, scope)).toMatchObject({ state: FAILED });
}

describe("enqueue", () => {
  it("inserts pending items due now, once per key: queuing a pending item again does nothing", () => {
    expect(queue.enqueue("raw", ["a", "b"], 2, T)).toBe(2);
    queue.enqueue("raw", ["a"], 0, T + 500);
    expect(queue.counts()).toEqual({ pending: 2, assigned: 0, failed: 0 });
    // the first time it was queued stays its place in line; the newer hops count
    expect(row("a")).toMatchObject({ state: PENDING, attempts: 0, next_run_at: T, hops: 0, rerun: 0, lease_token: null });
    expect(row("b")).toMatchObject({ hops: 2 });
    expect(queue.nextWake()).toBe(T);
  });

  it("queuing an assigned item marks it to run once more, and leaves its run alone", () => {
    queue.enqueue("raw", ["a"], 1, T);
    const claim = queue.claim(10, 1000, T)!;
    queue.enqueue("raw", ["a"], 0, T + 10);
    expect(row("a")).toMatchObject({ state: ASSIGNED, rerun: 1, attempts: 1, hops: 1, lease_token: claim.token, next_run_at: T + 1000 });
  });

  it("queuing a failed item starts it over: fresh attempts, due now, no error", () => {
    failForGood("a");
    queue.enqueue("raw", ["a"], 0, T + 9);
    expect(row("a")).toEqual(expect.objectContaining({ state: PENDING, attempts: 0, next_run_at: T + 9, last_error: null, failed_at: null }));
  });
});

describe("claim", () => {
  it("takes due items of the oldest item's scope under a lease and a run token, counting an attempt", () => {
    queue.enqueue("index", ["x"], 0, T + 1);
    queue.enqueue("raw", ["a", "b", "c"], 0, T);
    queue.enqueue("raw", ["later"], 0, T + 5000);
    const claim = queue.claim(2, 1000, T + 10)!;
    expect(claim).toMatchObject({ scope: "raw", leaseUntil: T + 1010 });
    expect(claim.items).toHaveLength(2);
    for (const { key } of claim.items)
      expect(row(key)).toMatchObject({ state: ASSIGNED, lease_token: claim.token, next_run_at: T + 1010, attempts: 1 });
    expect(queue.counts()).toEqual({ pending: 3, assigned: 2, failed: 0 });
    expect(queue.nextLeaseExpiry()).toBe(T + 1010);

    const next = queue.claim(10, 1000, T + 10)!;
    expect(next.token).not.toBe(claim.token);
    expect(next.items.map((item) => item.key)).toEqual([expect.any(String)]);
    expect(next.scope).toBe("raw");
    expect(queue.claim(10, 1000, T + 10)!.scope).toBe("index");
    // "later" is not due yet
    expect(queue.claim(10, 1000, T + 10)).toBeUndefined();
  });
});

describe("a run's result", () => {
  it("success removes its items and counts them", () => {
    queue.enqueue("raw", ["a", "b"], 0, T);
    const claim = queue.claim(10, 1000, T)!;
    expect(queue.complete(claim, none, settings, T + 1).processed).toBe(2);
    expect(queue.counts()).toEqual({ pending: 0, assigned: 0, failed: 0 });
    expect(queue.nextWake()).toBeUndefined();
  });

  it("success of an item queued again while it ran: it starts over, due now", () => {
    queue.enqueue("raw", ["a"], 0, T);
    const claim = queue.claim(10, 1000, T)!;
    queue.enqueue("raw", ["a"], 0, T + 1);
    expect(queue.complete(claim, none, settings, T + 2).processed).toBe(1);
    expect(row("a")).toMatchObject({ state: PENDING, attempts: 0, rerun: 0, lease_token: null, next_run_at: T + 2, last_error: null });
  });

  it("a failure retries after backoffMs, doubled per attempt and capped at maxBackoffMs", () => {
    queue.enqueue("raw", ["a"], 0, T);
    const many = { ...settings, maxAttempts: 10 };
    let now = T;
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 4; attempt++) {
      const claim = queue.claim(10, 60_000, now)!;
      expect(queue.complete(claim, new Map([["a", `try ${attempt}`]]), many, now).processed).toBe(0);
      const next = row("a")!.next_run_at;
      delays.push(next - now);
      // not due before its backoff
      expect(queue.claim(10, 60_000, next - 1)).toBeUndefined();
      now = next;
    }
    expect(delays).toEqual([100, 200, 350, 350]);
    expect(row("a")).toMatchObject({ state: PENDING, attempts: 4, last_error: "try 4", lease_token: null, failed_at: null });
  });

  it("a failure on the last attempt leaves the item failed, with its error and the time", () => {
    queue.enqueue("raw", ["a", "b"], 0, T);
    const claim = queue.claim(10, 1000, T)!;
    queue.complete(claim, new Map([["a", "upstream said no"]]), { ...settings, maxAttempts: 1 }, T + 5);
    expect(row("a")).toMatchObject({ state: FAILED, attempts: 1, last_error: "upstream said no", failed_at: T + 5, lease_token: null });
    expect(row("b")).toBeUndefined();
    expect(queue.counts()).toEqual({ pending: 0, assigned: 0, failed: 1 });
  });

  it("a failure of an item queued again while it ran: it starts over, the failure was the older change's", () => {
    queue.enqueue("raw", ["a"], 0, T);
    const claim = queue.claim(10, 1000, T)!;
    queue.enqueue("raw", ["a"], 0, T + 1);
    queue.complete(claim, new Map([["a", "no"]]), { ...settings, maxAttempts: 1 }, T + 2);
    expect(row("a")).toMatchObject({
      state: PENDING,
      attempts: 0,
      rerun: 0,
      lease_token: null,
      next_run_at: T + 2,
      last_error: null,
      failed_at: null,
    });
  });

  it("many failures in one run are applied in chunks, each with its own error", () => {
    const keys = Array.from({ length: 600 }, (_, i) => `k${String(i).padStart(4, "0")}`);
    queue.enqueue("raw", keys, 0, T);
    const claim = queue.claim(1000, 1000, T)!;
    expect(queue.complete(claim, new Map(keys.slice(0, 550).map((key) => [key, `error of ${key}`])), settings, T).processed).toBe(50);
    expect(queue.counts()).toEqual({ pending: 550, assigned: 0, failed: 0 });
    expect(row("k0549")).toMatchObject({ last_error: "error of k0549", attempts: 1 });
  });
});

describe("lease expiry", () => {
  it("an expired lease counts as a failed attempt: due again at once, with the reason", () => {
    queue.enqueue("raw", ["a"], 0, T);
    queue.claim(10, 1000, T);
    expect(queue.expireLeases(settings.maxAttempts, T + 999).expired).toBe(0);
    expect(queue.expireLeases(settings.maxAttempts, T + 1000).expired).toBe(1);
    expect(row("a")).toMatchObject({ state: PENDING, attempts: 1, next_run_at: T + 1000, last_error: LEASE_EXPIRED, lease_token: null });
    expect(queue.claim(10, 1000, T + 1000)!.items).toHaveLength(1);
    expect(row("a")).toMatchObject({ attempts: 2 });
  });

  it("a run that keeps outliving its lease ends failed", () => {
    queue.enqueue("raw", ["a"], 0, T);
    queue.claim(10, 1000, T);
    queue.expireLeases(1, T + 1000);
    expect(row("a")).toMatchObject({ state: FAILED, attempts: 1, last_error: LEASE_EXPIRED, failed_at: T + 1000 });
  });

  it("an item queued again while its run died starts over: the change it carries is not lost", () => {
    queue.enqueue("raw", ["a"], 0, T);
    queue.claim(10, 1000, T);
    queue.enqueue("raw", ["a"], 0, T + 1);
    queue.expireLeases(1, T + 1000);
    expect(row("a")).toMatchObject({
      state: PENDING,
      attempts: 0,
      rerun: 0,
      lease_token: null,
      last_error: null,
      failed_at: null,
      next_run_at: T + 1000,
    });
  });
});

describe("runs that died with the unit's previous instance", () => {
  it("every assigned item is due at once, its lease notwithstanding, and the attempt counts", () => {
    queue.enqueue("raw", ["a", "b", "c"], 0, T);
    queue.claim(2, 60_000, T);
    expect(queue.releaseDeadRuns(settings.maxAttempts, T + 5).expired).toBe(2);
    expect(queue.counts()).toEqual({ pending: 3, assigned: 0, failed: 0 });
    expect(row("a")).toMatchObject({ state: PENDING, attempts: 1, next_run_at: T + 5, last_error: RUN_DIED, lease_token: null, rerun: 0 });
    // pending and failed items are not a run's: untouched
    expect(row("c")).toMatchObject({ state: PENDING, attempts: 0, last_error: null });
    expect(queue.releaseDeadRuns(settings.maxAttempts, T + 6).expired).toBe(0);
    expect(queue.claim(10, 60_000, T + 5)!.items).toHaveLength(3);
  });

  it("an item queued again while its run died starts over; one on its last attempt fails for good", () => {
    queue.enqueue("raw", ["again", "last"], 0, T);
    queue.claim(10, 60_000, T);
    queue.enqueue("raw", ["again"], 0, T + 1);
    const { finished } = queue.releaseDeadRuns(1, T + 5);
    expect(row("again")).toMatchObject({ state: PENDING, attempts: 0, rerun: 0, last_error: null, next_run_at: T + 5 });
    expect(row("last")).toMatchObject({ state: FAILED, attempts: 1, last_error: RUN_DIED, failed_at: T + 5 });
    expect(finished).toEqual(new Map([[0, { processed: 0, failed: 1 }]]));
    expect(queue.counts()).toEqual({ pending: 1, assigned: 0, failed: 1 });
  });

  it("a result the dead run reports late changes nothing", () => {
    queue.enqueue("raw", ["a"], 0, T);
    const dead = queue.claim(10, 60_000, T)!;
    queue.releaseDeadRuns(settings.maxAttempts, T + 5);
    expect(queue.complete(dead, none, settings, T + 6).processed).toBe(0);
    expect(row("a")).toMatchObject({ state: PENDING, attempts: 1, last_error: RUN_DIED });
    expect(queue.counts()).toEqual({ pending: 1, assigned: 0, failed: 0 });
  });
});

describe("reset", () => {
  it("every assigned item goes back to pending, due now, and the attempt does not count", () => {
    queue.enqueue("raw", ["a", "b", "c"], 0, T);
    queue.claim(2, 1000, T);
    queue.enqueue("raw", ["a"], 0, T + 1);
    expect(queue.reset(T + 5)).toBe(2);
    expect(queue.counts()).toEqual({ pending: 3, assigned: 0, failed: 0 });
    expect(row("a")).toMatchObject({ state: PENDING, attempts: 0, rerun: 0, lease_token: null, next_run_at: T + 5 });
  });
});

describe("run tokens", () => {
  it("a result reported after a reset changes nothing; the new run's does", () => {
    queue.enqueue("raw", ["a"], 0, T);
    const first = queue.claim(10, 1000, T)!;
    queue.reset(T + 1);
    const second = queue.claim(10, 1000, T + 1)!;
    expect(queue.complete(first, new Map([["a", "stale failure"]]), settings, T + 2).processed).toBe(0);
    expect(queue.complete(first, none, settings, T + 2).processed).toBe(0);
    expect(row("a")).toMatchObject({ state: ASSIGNED, attempts: 1, last_error: null, lease_token: second.token });
    expect(queue.complete(second, none, settings, T + 3).processed).toBe(1);
    expect(row("a")).toBeUndefined();
  });

  it("a result reported after the lease expired changes nothing", () => {
    queue.enqueue("raw", ["a"], 0, T);
    const dead = queue.claim(10, 1000, T)!;
    queue.expireLeases(settings.maxAttempts, T + 1000);
    expect(queue.complete(dead, none, settings, T + 1001).processed).toBe(0);
    expect(queue.complete(dead, new Map([["a", "late"]]), settings, T + 1001).processed).toBe(0);
    expect(row("a")).toMatchObject({ state: PENDING, attempts: 1, last_error: LEASE_EXPIRED });
  });
});

describe("claimKeys (a fill's keys, claimed without a pending stage)", () => {
  it("inserts the keys not queued yet as assigned; queued ones keep their course", () => {
    failForGood("c");
    queue.enqueue("raw", ["a"], 0, T);
    queue.enqueue("raw", ["b"], 0, T);
    const running = queue.claim(1, 1000, T + 10_000_000)!;
    const claim = queue.claimKeys("raw", ["a", "b", "c", "d", "e"], 500, 1, T + 10_000_000);
    const busy = running.items[0]!.key;
    expect(claim).toMatchObject({ scope: "raw", leaseUntil: T + 10_000_500 });
    expect(claim.items).toEqual([
      { key: "d", hops: 1, run: null },
      { key: "e", hops: 1, run: null },
    ]);
    expect(row("d")).toMatchObject({ state: ASSIGNED, attempts: 1, lease_token: claim.token, next_run_at: T + 10_000_500, hops: 1 });
    expect(row(busy)).toMatchObject({ state: ASSIGNED, rerun: 1, lease_token: running.token });
    expect(row("c")).toMatchObject({ state: PENDING, attempts: 0, last_error: null });
    expect(queue.claimKeys("raw", [], 500, 0, T).items).toEqual([]);
  });
});

describe("failed items", () => {
  it("retryFailed starts all of them over, or those with the given keys", () => {
    for (const key of ["a", "b", "c"]) failForGood(key);
    expect(queue.retryFailed(["b", "missing"], T + 7)).toBe(1);
    // as queuing it again would: nothing of the failure is left on it
    expect(row("b")).toMatchObject({ state: PENDING, attempts: 0, next_run_at: T + 7, last_error: null, failed_at: null });
    expect(keysIn(FAILED)).toEqual(["a", "c"]);
    expect(queue.retryFailed(undefined, T + 8)).toBe(2);
    expect(queue.counts()).toEqual({ pending: 3, assigned: 0, failed: 0 });
  });

  it("are listed in (scope, key) order, a page at a time", () => {
    for (const [scope, key] of [
      ["raw", "b"],
      ["index", "z"],
      ["raw", "a"],
      ["raw", "c"],
      ["index", "y"],
    ] as const)
      failForGood(key, scope, `${scope}/${key} failed`);
    const first = queue.failed(2);
    expect(first.items).toEqual([
      { scope: "index", key: "y", attempts: 3, lastError: "index/y failed", failedAt: new Date(T + 3_000_000).toISOString() },
      expect.objectContaining({ scope: "index", key: "z" }),
    ]);
    expect(first.nextCursor).toEqual({ scope: "index", key: "z" });
    const second = queue.failed(2, first.nextCursor);
    expect(second.items.map((item) => item.key)).toEqual(["a", "b"]);
    const last = queue.failed(2, second.nextCursor);
    expect(last.items.map((item) => item.key)).toEqual(["c"]);
    expect(last.nextCursor).toBeUndefined();
    expect(queue.failed(3, { scope: "raw", key: "a" }).nextCursor).toBeUndefined();
  });

  it("purgeFailed drops the failed items only", () => {
    failForGood("a");
    queue.enqueue("raw", ["b"], 0, T);
    expect(queue.purgeFailed()).toBe(1);
    expect(queue.counts()).toEqual({ pending: 1, assigned: 0, failed: 0 });
  });
});

describe("purgePending", () => {
  it("drops pending items; assigned ones finish their run", () => {
    queue.enqueue("raw", ["a", "b", "c"], 0, T);
    const claim = queue.claim(1, 1000, T)!;
    expect(queue.purgePending()).toBe(2);
    expect(queue.counts()).toEqual({ pending: 0, assigned: 1, failed: 0 });
    expect(queue.complete(claim, none, settings, T + 1).processed).toBe(1);
  });
});
