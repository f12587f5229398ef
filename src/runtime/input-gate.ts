/**
 * The input gate of one self-hosted object, after the Durable Object one: while the object
 * waits on its own storage (an alarm operation, `deleteAll`) or inside
 * `blockConcurrencyWhile`, no new event (RPC call, alarm) is delivered to it. At any other
 * await, a module's `fetch` or a timer, events interleave freely: the gate is never held
 * across foreign I/O, so a hung publisher cannot block `status` or `reset`.
 *
 * SQL needs no gate: it is synchronous, so a single thread already runs it without
 * interleaving.
 */
import { macrotask } from "../yield-budget";

export class InputGate {
  private holders = 0;
  private opened: Promise<void> | undefined;
  private open: (() => void) | undefined;

  /**
   * Keeps the gate closed until `work` settles and the code awaiting it has had its turn:
   * the gate opens on the next macrotask, after the continuation's microtasks ran.
   */
  async closeWhile<T>(work: () => Promise<T>): Promise<T> {
    if (this.holders++ === 0) this.opened = new Promise((resolve) => (this.open = resolve));
    try {
      return await work();
    } finally {
      // a macrotask after this turn's I/O, not a timer: timers wait for the loop's next round,
      // behind whatever else runs then (another unit's job slice), and the gate would stay shut that long
      void macrotask().then(() => this.release());
    }
  }

  /** Delivers an event: waits for the gate to open, then starts `event` in the same turn. */
  async deliver<T>(event: () => Promise<T>): Promise<T> {
    while (this.opened) await this.opened;
    return event();
  }

  get isOpen(): boolean {
    return this.holders === 0;
  }

  private release(): void {
    if (--this.holders > 0) return;
    const open = this.open;
    this.opened = this.open = undefined;
    open?.();
  }
}
