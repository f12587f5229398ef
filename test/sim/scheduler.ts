/**
 * The simulation's only source of order and time: a seeded PRNG picks which pending step
 * runs next. A step is anything that waits on the outside world in the real host: an RPC
 * call reaching an object, its answer reaching the caller, a client request starting, a
 * timer (virtual: `setTimeout`, `setImmediate` and alarms fire on the scheduler's clock,
 * never the machine's). Between two steps every microtask runs to completion, so the
 * order of steps alone decides the run: the same seed gives the same schedule.
 */

/** mulberry32: small, fast, and the same sequence on every machine. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = (seed ^ 0x9e3779b9) >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(below: number): number {
    return Math.floor(this.next() * below);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

interface Pending {
  seq: number;
  label: string;
  run: () => void;
}

interface Timer extends Pending {
  at: number;
  /** the timer belongs to the host's background (sweeper): it never keeps a run going */
  background: boolean;
}

/** The real setImmediate, kept before the virtual one replaces it: how the scheduler lets microtasks run out. */
const realSetImmediate = globalThis.setImmediate;

export class SchedulerStuck extends Error {}

export class Scheduler {
  /** virtual time in ms since the epoch */
  now = Date.UTC(2026, 0, 1);
  readonly rng: Rng;
  /** every step taken, in order (labels) */
  readonly trace: string[] = [];
  private seq = 0;
  private ready: Pending[] = [];
  private timers = new Map<number, Timer>();
  /** names what runs now (the object whose event it is), for the labels of the timers it sets */
  runningNow: () => string | undefined = () => undefined;
  /** called before each pick; may act on the world (crash an object) and say what it did */
  beforePick: (() => string | undefined) | undefined;

  constructor(seed: number) {
    this.rng = new Rng(seed);
  }

  /** Resolves when the scheduler picks this step. */
  step(label: string): Promise<void> {
    return new Promise((resolve) => this.ready.push({ seq: this.seq++, label, run: resolve }));
  }

  setTimer(run: () => void, ms: number, label: string, background = false): number {
    const seq = this.seq++;
    const owner = this.runningNow();
    if (owner) label = `${label} (${owner})`;
    this.timers.set(seq, { seq, label, run, at: this.now + Math.max(0, Number(ms) || 0), background });
    return seq;
  }

  clearTimer(id: number): void {
    this.timers.delete(id);
  }

  /**
   * Runs steps until `done()` holds and nothing is ready, or only timers later than
   * `settleMs` from then are left. Throws {@link SchedulerStuck} past `maxSteps`.
   */
  async run(done: () => boolean, options: { maxSteps: number; settleMs: number }): Promise<void> {
    let settleUntil: number | undefined;
    for (let steps = 0; ; steps++) {
      await new Promise((resolve) => realSetImmediate(resolve));
      if (steps > options.maxSteps) throw new SchedulerStuck(`no end after ${options.maxSteps} steps`);
      const due = [...this.timers.values()].filter((timer) => timer.at <= this.now).sort((a, b) => a.at - b.at || a.seq - b.seq);
      // by label, so that the order in which steps were registered within one turn (the
      // microtasks' order, which a cache warm or cold can change) does not decide the pick
      const candidates: Pending[] = [...this.ready, ...due].sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : a.seq - b.seq));
      if (candidates.length === 0) {
        const next = [...this.timers.values()].filter((timer) => !timer.background).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
        if (done()) {
          settleUntil ??= this.now + options.settleMs;
          if (!next || next.at > settleUntil) return;
        } else if (!next) throw new SchedulerStuck("clients wait on nothing that can happen: a lost answer");
        this.now = next!.at;
        continue;
      }
      const acted = this.beforePick?.();
      if (acted) this.trace.push(`${this.now} ${acted}`);
      const chosen = candidates[this.rng.int(candidates.length)]!;
      if ("at" in chosen) this.timers.delete(chosen.seq);
      else this.ready.splice(this.ready.indexOf(chosen), 1);
      this.trace.push(`${this.now} ${chosen.label}`);
      chosen.run();
    }
  }
}
