/**
 * The self-hosted object host (src/runtime/objects.ts) with what a test does to an object
 * from outside, as the Workers test pool does: run its alarm now, or run code inside it.
 */
import { ObjectHost, type ObjectId } from "../../src/runtime/objects";

/** The parts of the host's live object and alarm a test reaches (private to the host). */
interface HostInternals {
  object(binding: string, id: ObjectId): Promise<{ deliver(method: string, args: unknown[]): Promise<unknown> }>;
  alarmOf(binding: string, id: ObjectId): HostAlarm;
}
interface HostAlarm {
  get(): number | null;
  delete(): void;
  stop(): void;
}
interface LiveInternals {
  instance: object;
  gate: { deliver<T>(fn: () => Promise<T>): Promise<T> };
  storage: unknown;
}

/** The binding every stub a test hands in belongs to: the tests that run here reach only the units. */
const BINDING = "STORAGE_UNIT";

/**
 * Alarms are set and read as on the host, but fire only when a test runs them
 * ({@link TestHost.runAlarm}): a test reads the queue as its calls left it, as the Workers
 * test pool lets it, and drains it when it chooses.
 */
export class TestHost extends ObjectHost {
  constructor(options: ConstructorParameters<typeof ObjectHost>[0]) {
    super(options);
    const internals = this as unknown as HostInternals;
    const alarmOf = internals.alarmOf.bind(this);
    internals.alarmOf = (binding, id) => {
      const alarm = alarmOf(binding, id);
      alarm.stop();
      return alarm;
    };
  }

  /** Runs the object's alarm now, when one is set (it is removed first, as a due alarm is); whether one ran. */
  async runAlarm(stub: { id: ObjectId }): Promise<boolean> {
    const internals = this as unknown as HostInternals;
    const alarm = internals.alarmOf(BINDING, stub.id);
    if (alarm.get() === null) return false;
    alarm.delete();
    const object = await internals.object(BINDING, stub.id);
    await object.deliver("alarm", [{ retryCount: 0, isRetry: false }]);
    return true;
  }

  /** `fn` with the object's instance and state, through its input gate as an event. */
  async runIn<T>(stub: { id: ObjectId }, fn: (instance: never, state: never) => T | Promise<T>): Promise<T> {
    const live = (await (this as unknown as HostInternals).object(BINDING, stub.id)) as unknown as LiveInternals;
    const state = (live.instance as { ctx: unknown }).ctx;
    return live.gate.deliver(async () => fn(live.instance as never, state as never));
  }
}
