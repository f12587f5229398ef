/**
 * The process-wide things the real code reads that would make a run depend on the machine:
 * the clock (`Date`), timers (`setTimeout`, `setInterval`, `setImmediate`), randomness
 * (`crypto.randomUUID`, `getRandomValues`, `Math.random`) and Web Crypto, whose promises
 * settle on a thread pool at a moment of the machine's choosing. While a simulation runs
 * they are the scheduler's: virtual time, steps it picks, the seed's randomness, and HMAC
 * and SHA-256 computed at once with node:crypto.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { Scheduler } from "./scheduler";

type Callback = (...args: unknown[]) => void;

/** What Node's timers return, enough for code that calls unref/ref or passes it back to clear. */
class VirtualTimer {
  constructor(readonly id: number) {}
  unref(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  hasRef(): boolean {
    return true;
  }
  [Symbol.toPrimitive](): number {
    return this.id;
  }
}

const saved = {
  Date: globalThis.Date,
  setTimeout: globalThis.setTimeout,
  clearTimeout: globalThis.clearTimeout,
  setInterval: globalThis.setInterval,
  clearInterval: globalThis.clearInterval,
  setImmediate: globalThis.setImmediate,
  clearImmediate: globalThis.clearImmediate,
  random: Math.random,
};
const webCrypto = (globalThis as unknown as { crypto: object }).crypto;
const cryptoOwn = ["randomUUID", "getRandomValues", "subtle"] as const;

type HmacKey = { type: "secret"; algorithm: { name: "HMAC" }; raw: Buffer };

/** The few Web Crypto calls the app makes, answered at once. */
const immediateSubtle = {
  async digest(algorithm: string | { name: string }, data: BufferSource) {
    const name = (typeof algorithm === "string" ? algorithm : algorithm.name).replace("-", "").toLowerCase();
    return toArrayBuffer(createHash(name).update(bytes(data)).digest());
  },
  async importKey(_format: "raw", keyData: BufferSource): Promise<HmacKey> {
    return { type: "secret", algorithm: { name: "HMAC" }, raw: Buffer.from(bytes(keyData)) };
  },
  async sign(_algorithm: unknown, key: HmacKey, data: BufferSource) {
    return toArrayBuffer(createHmac("sha256", key.raw).update(bytes(data)).digest());
  },
  async verify(_algorithm: unknown, key: HmacKey, signature: BufferSource, data: BufferSource) {
    const expected = createHmac("sha256", key.raw).update(bytes(data)).digest();
    const given = Buffer.from(bytes(signature));
    return given.length === expected.length && timingSafeEqual(given, expected);
  },
};

function bytes(data: BufferSource): Uint8Array {
  return data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function toArrayBuffer(buffer: Buffer): ArrayBuffer {
  return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
}

/** Makes the globals the scheduler's; the returned function puts the real ones back. */
export function installVirtualGlobals(scheduler: Scheduler): () => void {
  const RealDate = saved.Date;
  class VirtualDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(scheduler.now);
      else super(...(args as [number]));
    }
    static override now(): number {
      return scheduler.now;
    }
  }
  const g = globalThis as Record<string, unknown>;
  const clear = (timer: unknown) => {
    if (timer !== undefined && timer !== null) scheduler.clearTimer(Number(timer));
  };
  g.Date = VirtualDate;
  g.setTimeout = (fn: Callback, ms?: number, ...args: unknown[]) =>
    new VirtualTimer(scheduler.setTimer(() => fn(...args), ms ?? 0, `timer ${ms ?? 0}ms`));
  g.clearTimeout = clear;
  g.setImmediate = (fn: Callback, ...args: unknown[]) => new VirtualTimer(scheduler.setTimer(() => fn(...args), 0, "immediate"));
  g.clearImmediate = clear;
  g.setInterval = (fn: Callback, ms?: number, ...args: unknown[]) => {
    // an interval is the host's background (the idle sweeper): it never keeps a run from ending
    const timer = new VirtualTimer(-1);
    const every = Math.max(1, ms ?? 0);
    const arm = () => {
      (timer as { id: number }).id = scheduler.setTimer(
        () => {
          arm();
          fn(...args);
        },
        every,
        `interval ${every}ms`,
        true,
      );
    };
    arm();
    return { unref: () => timer, ref: () => timer, hasRef: () => true, [Symbol.toPrimitive]: () => timer.id };
  };
  g.clearInterval = (timer: unknown) => clear(timer);
  Math.random = () => scheduler.rng.next();
  const hex = () => scheduler.rng.int(16).toString(16);
  Object.defineProperties(webCrypto, {
    randomUUID: {
      configurable: true,
      value: () => "xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx".replace(/x/g, hex),
    },
    getRandomValues: {
      configurable: true,
      value: <T extends ArrayBufferView>(array: T) => {
        const view = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
        for (let i = 0; i < view.length; i++) view[i] = scheduler.rng.int(256);
        return array;
      },
    },
    subtle: { configurable: true, value: immediateSubtle },
  });
  return () => {
    Object.assign(g, {
      Date: saved.Date,
      setTimeout: saved.setTimeout,
      clearTimeout: saved.clearTimeout,
      setInterval: saved.setInterval,
      clearInterval: saved.clearInterval,
      setImmediate: saved.setImmediate,
      clearImmediate: saved.clearImmediate,
    });
    Math.random = saved.random;
    for (const name of cryptoOwn) delete (webCrypto as unknown as Record<string, unknown>)[name];
  };
}
