/**
 * Fairness for long synchronous work: a budget of wall time and bytes after which the work
 * yields to the event loop with a macrotask, so requests, timers and I/O get in.
 *
 * Two measures, because the runtimes differ: on Node, Bun and Deno the clock moves while
 * code runs, so a few milliseconds bound each slice; inside Workers the clock stands still
 * during synchronous work (it moves only across I/O), so the bytes of documents read and
 * written stand in for time there. Item counts alone say nothing: one item may join a
 * thousand records.
 *
 * A microtask would not do: `await` on a resolved promise runs before any I/O callback.
 */

/** One slice of work before a yield: a few milliseconds where the clock moves, this many bytes where it does not. */
export interface SliceLimits {
  ms: number;
  bytes: number;
}

/**
 * Whether the clock moves while code runs: not inside Workers (`navigator.userAgent` is
 * "Cloudflare-Workers" there), where only I/O moves it; a slice there is measured in bytes.
 */
export const CLOCK_MOVES = typeof navigator === "undefined" || navigator.userAgent !== "Cloudflare-Workers";

export const DEFAULT_SLICE: SliceLimits = { ms: CLOCK_MOVES ? 4 : Number.POSITIVE_INFINITY, bytes: 1024 * 1024 };

/** What an item costs at least, in bytes, whatever its documents: tiny items still yield now and then. */
export const ITEM_BYTES = 512;

/** setImmediate runs after the I/O of this turn of the loop (Node, Bun, Deno); Workers have a timer of 0 ms. */
export const macrotask: () => Promise<void> =
  typeof setImmediate === "function" ? () => new Promise((resolve) => setImmediate(resolve)) : () => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * Shared by everything one job runs (its workers and their pipeline lanes): all of them
 * draw on one slice and, once it is used up, wait for the same yield, so the event loop
 * really gets its turn rather than another lane taking the slice.
 *
 * @example
 * const budget = new YieldBudget();
 * for (const item of items) {
 *   for (let wait = budget.ready(); wait; wait = budget.ready()) await wait;
 *   work(item);
 *   budget.count(item.bytes);
 * }
 */
export class YieldBudget {
  private spent = 0;
  private since: number;
  private yielding: Promise<void> | undefined;

  constructor(
    private readonly limits: SliceLimits = DEFAULT_SLICE,
    private readonly clock: () => number = Date.now,
  ) {
    this.since = clock();
  }

  /**
   * Undefined when work may start now; else the yield to await before asking again. Ask
   * right before each piece of work, in a loop, with nothing in between:
   * `for (let wait = budget.ready(); wait; wait = budget.ready()) await wait;`
   * When a yield ends, every caller waiting on it resumes in the same turn: the first runs
   * its piece, and the next finds the slice used up again and yields rather than running its own.
   */
  ready(): Promise<void> | undefined {
    if (this.yielding) return this.yielding;
    if (this.spent < this.limits.bytes && this.clock() - this.since < this.limits.ms) return undefined;
    this.yielding = macrotask().then(() => {
      this.yielding = undefined;
      this.spent = 0;
      this.since = this.clock();
    });
    return this.yielding;
  }

  /**
   * Whether the slice is measured in time. Only then do a batch's items wait for it one by
   * one: where the clock stands still (Workers), a batch of synchronous items runs whole
   * and its bytes count towards the yield the job takes before the next batch (and the
   * module reads that wait for it), since waiting between items there only costs a turn
   * of the loop per slice without telling heavy items from light ones any better.
   */
  get timed(): boolean {
    return Number.isFinite(this.limits.ms);
  }

  /** Counts `bytes` of work done where the caller cannot wait (a module's synchronous read or write): the next {@link ready} yields. */
  count(bytes: number): void {
    this.spent += bytes;
  }
}

/**
 * The budget of the lists users read (`fetchPage`, `fetchMultiple`) on a self-hosted server:
 * one per process, since the units there share its event loop, so that readers of large pages
 * take turns with every other unit's calls. Counted in bytes read on every runtime.
 */
export const READS = new YieldBudget();

/**
 * The read budget of one unit's object: {@link READS} where the units share a process's event
 * loop; inside Workers, one of its own. Objects there may share an isolate but cannot resume
 * on each other's promises: a read of one shard waiting on a yield another shard's read began
 * would be resumed in that other object's context, and its answer could never be sent (the
 * call would hang).
 */
export function readBudget(): YieldBudget {
  return CLOCK_MOVES ? READS : new YieldBudget();
}
