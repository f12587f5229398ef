/**
 * The self-hosted input gate (src/runtime/input-gate.ts): closed while the object waits on
 * its own storage, and open again on the next macrotask, so an event that arrived meanwhile
 * does not also wait for the loop's next round of timers, which comes only after whatever
 * else runs in between (another unit's job slice).
 */
import { describe, expect, it } from "vitest";
import { InputGate } from "../../src/runtime/input-gate";

const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("the self-hosted input gate", () => {
  it("holds an event while closed, and delivers it one macrotask after the work settled", async () => {
    const gate = new InputGate();
    let finish!: () => void;
    const work = gate.closeWhile(() => new Promise<void>((resolve) => (finish = resolve)));
    const delivered: string[] = [];
    const event = gate.deliver(async () => void delivered.push("event"));
    await immediate();
    expect(delivered).toEqual([]);
    expect(gate.isOpen).toBe(false);
    finish();
    await work;
    // a job that yields with setImmediate (src/yield-budget.ts) takes its turns meanwhile: the event is in by its first
    await immediate();
    expect(delivered).toEqual(["event"]);
    expect(gate.isOpen).toBe(true);
    await event;
  });
});
