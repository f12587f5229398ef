/**
 * The self-hosted object host (src/runtime/objects.ts) with its deliveries scheduled: an
 * RPC call reaches its object, and its answer its caller, only when the scheduler picks
 * that step; and an object can be crashed between any two steps. A crash drops the live
 * instance (its in-memory state is lost, its storage handle closed, its calls in flight
 * fail, and whatever it still runs can neither touch storage nor call out); the next event
 * builds a new instance from what was committed, as Workers does after a reset.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { ObjectHost, type ObjectHostOptions, type ObjectId } from "../../src/runtime/objects";
import type { Scheduler } from "./scheduler";

/** The parts of the host's LiveObject the simulation looks at. */
interface Live {
  deliver(method: string, args: unknown[]): Promise<unknown>;
  close(): void;
  active: number;
}

interface Running {
  key: string;
  object: Live;
}

/** Which object's event the current code runs for (none: the Worker or a client). */
const running = new AsyncLocalStorage<Running>();

export class ObjectReset extends Error {
  constructor(what: string) {
    super(`Durable Object reset: ${what}`);
  }
}

export class SimHost extends ObjectHost {
  crashes = 0;
  private readonly crashed = new WeakMap<Live, { promise: Promise<never>; reject: (error: Error) => void }>();

  constructor(
    options: ObjectHostOptions,
    private readonly scheduler: Scheduler,
  ) {
    super(options);
    scheduler.runningNow = () => {
      const now = running.getStore();
      return now && nameOf(now.key);
    };
    // every instance the host builds is adopted: its deliveries run as it, and fail when it crashes
    const self = this as unknown as { build(binding: string, id: ObjectId, key: string): Live };
    const build = self.build.bind(this);
    self.build = (binding, id, key) => {
      const object = build(binding, id, key);
      this.adopt(key, object, id.name ?? String(id));
      return object;
    };
  }

  override async call(binding: string, id: ObjectId, method: string, args: unknown[]): Promise<unknown> {
    const from = running.getStore();
    const label = `${from ? nameOf(from.key) : "worker"} → ${id.name}.${method}${describe(args)}`;
    this.refuseZombie(from);
    await this.scheduler.step(`call ${label}`);
    this.refuseZombie(from);
    try {
      const result = await super.call(binding, id, method, args);
      await this.scheduler.step(`answer ${label}`);
      return result;
    } catch (error) {
      await this.scheduler.step(`throw ${label}: ${String(error).slice(0, 80)}`);
      throw error;
    }
  }

  /** Drops the live instance at `key` as a crash would; false when there was none. */
  crash(key: string): boolean {
    const live = this.liveMap();
    const object = live.get(key);
    if (!object) return false;
    live.delete(key);
    object.close();
    this.crashed.get(object)?.reject(new ObjectReset(`${nameOf(key)} crashed`));
    this.crashes++;
    return true;
  }

  isBusy(key: string): boolean {
    return (this.liveMap().get(key)?.active ?? 0) > 0;
  }

  private liveMap(): Map<string, Live> {
    return (this as unknown as { live: Map<string, Live> }).live;
  }

  /** Wraps a new instance's deliveries: they run as that object, and fail when it crashes. */
  private adopt(key: string, object: Live, name: string): void {
    let reject!: (error: Error) => void;
    const promise = new Promise<never>((_, no) => (reject = no));
    promise.catch(() => {});
    this.crashed.set(object, { promise, reject });
    rememberName(key, name);
    const deliver = object.deliver.bind(object);
    object.deliver = (method, args) => {
      const work = running.run({ key, object }, () => deliver(method, args));
      work.catch(() => {});
      return Promise.race([work, promise]);
    };
  }

  private refuseZombie(from: Running | undefined): void {
    if (from && this.liveMap().get(from.key) !== from.object) throw new ObjectReset(`${nameOf(from.key)} crashed before its call went out`);
  }
}

const hostNames = new Map<string, string>();

/** A short name for an object key, for traces. */
export function nameOf(key: string): string {
  return hostNames.get(key) ?? key.slice(0, 24);
}

export function rememberName(key: string, name: string): void {
  hostNames.set(key, name);
}

/** The part of an RPC's arguments worth a trace line: a split's op, or the first string (a scope or key). */
function describe(args: unknown[]): string {
  const op = args.find((arg): arg is { op: string; to?: number } => typeof arg === "object" && arg !== null && "op" in arg);
  if (op) return `(${op.op}${op.to ? ` →${op.to}` : ""})`;
  const text = args.find((arg) => typeof arg === "string");
  return text === undefined ? "" : `(${String(text).slice(0, 40)})`;
}
