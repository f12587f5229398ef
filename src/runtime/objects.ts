/**
 * The self-hosted stand-in for the Durable Object runtime: namespaces (`idFromName`,
 * `get`), stubs whose method calls behave like RPC, and one live instance per object,
 * built with a `ctx` of the shape src/unit/sql.ts (`UnitState`) describes.
 *
 * Invariants: at most one instance per (namespace, id) in this process; one idle for
 * `idleEvictMs` is dropped (its file closed) and built anew by the next event, as Workers
 * evicts idle objects, so a server with thousands of units keeps few files open. At most
 * `maxLiveObjects` are live at once (each holds {@link FILES_PER_OBJECT} files): to build one
 * more, the least recently used idle one is closed; an object with an event in progress (a
 * call, its alarm, its `waitUntil` work) is never closed, and while every live one is busy an
 * event for another object waits for room, up to `roomWaitMs`. What the server runs out of
 * (room, or open files when the process's limit is lower than the cap allows for) refuses
 * the event with {@link HostOverloaded} (503 `OVERLOADED`), never more; files running out
 * below the cap lower it to what the limit held. Arguments and results
 * cross a stub by structured clone, as RPC copies them; events reach an instance through
 * its input gate (./input-gate.ts). Each object keeps its SQLite file at
 * `<dataDir>/<namespace>/<id>.sqlite`, where the id is derived from the name as on Workers
 * (64 hex digits); the file appears with the object's first write (./sql-storage.ts).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { AlarmStore, ObjectAlarm, type AlarmInvocationInfo } from "./alarms";
import { InputGate } from "./input-gate";
import { FILES_PER_OBJECT, openFailure } from "./open-files";
import { HostOverloaded, overloadFields } from "./overloaded";
import type { Platform, SqliteDatabase } from "./platform";
import { SqlStorage } from "./sql-storage";
import { log } from "../log";

/** Live objects at most, when the host is not told. */
const DEFAULT_MAX_LIVE = 256;
/** How long an event waits for room among the live objects while every one is busy. */
const DEFAULT_ROOM_WAIT_MS = 20_000;
/** Once files run out, the cap becomes this share of the objects that were open... */
const LOWERED_CAP_SHARE = 0.8;
/** ...but never less than this many, so that a fan-out still finds room. */
const MIN_LOWERED_CAP = 16;
/** A waiting event looks for room again this often, besides whenever an event ends. */
const ROOM_POLL_MS = 100;

/** A Durable Object class as the host constructs it. */
export type ObjectClass = new (ctx: never, env: never) => object;

/** A Durable Object id: 64 hex digits, and the name it came from when it came from one. */
export class ObjectId {
  constructor(
    private readonly hex: string,
    readonly name?: string,
  ) {}

  toString(): string {
    return this.hex;
  }

  equals(other: { toString(): string }): boolean {
    return other.toString() === this.hex;
  }
}

/** A namespace binding (`env.STORAGE_UNIT`): ids and stubs. */
export class ObjectNamespace {
  constructor(
    private readonly host: ObjectHost,
    readonly binding: string,
  ) {}

  idFromName(name: string): ObjectId {
    return new ObjectId(createHash("sha256").update(`${this.binding}\0${name}`).digest("hex"), name);
  }

  idFromString(id: string): ObjectId {
    if (!/^[0-9a-f]{64}$/.test(id)) throw new TypeError(`Invalid Durable Object ID: expected 64 hex digits, got '${id}'`);
    return new ObjectId(id);
  }

  get(id: ObjectId): object {
    return createStub(this.host, this.binding, id);
  }

  getByName(name: string): object {
    return this.get(this.idFromName(name));
  }
}

export interface ObjectHostOptions {
  platform: Platform;
  dataDir: string;
  /** binding name → Durable Object class, as in wrangler.toml */
  classes: Record<string, ObjectClass>;
  /** the host database (alarms); the caller opened and locked it */
  hostDatabase: SqliteDatabase;
  /** how long an object with no event in progress stays in memory (default one minute) */
  idleEvictMs?: number;
  /** the most objects in memory at once, each with its files open (default 256) */
  maxLiveObjects?: number;
  /** how long an event waits for room among them while all are busy before it is refused (default 20 s) */
  roomWaitMs?: number;
  /** the process's limit of open files, when known: the details of a refusal name it */
  fileLimit?: number;
}

export class ObjectHost {
  /** the namespaces, to put in `env` under their binding names */
  readonly namespaces: Record<string, ObjectNamespace> = {};
  private readonly alarmStore: AlarmStore;
  private readonly alarms = new Map<string, ObjectAlarm>();
  /** the live objects, least recently used first */
  private readonly live = new Map<string, LiveObject>();
  /** objects being built, so that two events for one object build it once */
  private readonly starting = new Map<string, Promise<LiveObject>>();
  /** places among the live objects taken by objects being built */
  private reserved = 0;
  /** events waiting for room, woken whenever an event ends */
  private waiting = new Set<() => void>();
  /** the cap on live objects: the configured one, lowered once files run out below it */
  private maxLive: number;
  private env: Record<string, unknown> = {};
  private sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly options: ObjectHostOptions) {
    this.alarmStore = new AlarmStore(options.hostDatabase);
    this.maxLive = Math.max(1, options.maxLiveObjects ?? DEFAULT_MAX_LIVE);
    for (const binding of Object.keys(options.classes)) {
      mkdirSync(join(options.dataDir, binding), { recursive: true });
      this.namespaces[binding] = new ObjectNamespace(this, binding);
    }
  }

  /** Sets the env every object is built with, and takes up the alarms persisted by earlier runs. */
  start(env: Record<string, unknown>): void {
    this.env = env;
    for (const persisted of this.alarmStore.all()) {
      if (!(persisted.namespace in this.options.classes)) continue;
      this.alarmOf(persisted.namespace, new ObjectId(persisted.id, persisted.name ?? undefined)).restore(persisted.at);
    }
    const idleMs = this.options.idleEvictMs ?? 60_000;
    this.sweeper = setInterval(() => this.evictIdle(idleMs), Math.max(10, idleMs / 2));
  }

  /** Stops every alarm and closes every object's file. */
  stop(): void {
    clearInterval(this.sweeper);
    for (const alarm of this.alarms.values()) alarm.stop();
    for (const object of this.live.values()) object.close();
    this.live.clear();
  }

  /** How many objects are in memory now. */
  get liveCount(): number {
    return this.live.size;
  }

  /** An RPC call through a stub: copies in, one event through the gate, copies out. */
  async call(binding: string, id: ObjectId, method: string, args: unknown[]): Promise<unknown> {
    const payload = structuredClone(args);
    try {
      const object = await this.object(binding, id);
      const result = await object.deliver(method, payload);
      return structuredClone(result);
    } catch (error) {
      throw this.crossing(error);
    }
  }

  /** Drops the objects that have had no event in progress for `idleMs`; their next event builds them anew. */
  private evictIdle(idleMs: number, now = Date.now()): void {
    for (const [key, object] of this.live) {
      if (object.idleSince() > now - idleMs) continue;
      this.drop(key, object);
    }
  }

  /** The live object, built if it is not (once room is made for it), now the most recently used. */
  private async object(binding: string, id: ObjectId): Promise<LiveObject> {
    const key = `${binding}:${id}`;
    const object = this.live.get(key);
    if (object) {
      this.live.delete(key);
      this.live.set(key, object);
      return object;
    }
    let starting = this.starting.get(key);
    if (!starting) {
      starting = this.startObject(binding, id, key).finally(() => this.starting.delete(key));
      this.starting.set(key, starting);
    }
    return starting;
  }

  private async startObject(binding: string, id: ObjectId, key: string): Promise<LiveObject> {
    await this.makeRoom();
    try {
      let object: LiveObject;
      try {
        object = this.build(binding, id, key);
      } catch (error) {
        if (openFailure(error) === undefined) throw error;
        // the process is at its limit of open files: give back what idle objects hold and try once more
        this.closeIdle();
        object = this.build(binding, id, key);
      }
      this.live.set(key, object);
      return object;
    } finally {
      this.reserved--;
    }
  }

  /**
   * Takes a place among the live objects, closing the least recently used idle one when they
   * are all taken; while every one is busy, waits for an event to end, up to `roomWaitMs`.
   */
  private async makeRoom(): Promise<void> {
    const deadline = Date.now() + (this.options.roomWaitMs ?? DEFAULT_ROOM_WAIT_MS);
    while (this.live.size + this.reserved >= this.maxLive) {
      if (this.closeLeastRecentlyUsed()) continue;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new HostOverloaded(
          `the server holds its limit of ${this.maxLive} storage objects in memory (RESTAGE_MAX_LIVE_OBJECTS) and every one is busy; retry after a short wait`,
        );
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiting.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, ROOM_POLL_MS));
        this.waiting.add(wake);
      });
    }
    this.reserved++;
  }

  private closeLeastRecentlyUsed(): boolean {
    for (const [key, object] of this.live) {
      if (object.idleSince() === Number.POSITIVE_INFINITY) continue;
      this.drop(key, object);
      return true;
    }
    return false;
  }

  /** Closes every live object with no event in progress. */
  private closeIdle(): void {
    for (const [key, object] of this.live) if (object.idleSince() !== Number.POSITIVE_INFINITY) this.drop(key, object);
  }

  private drop(key: string, object: LiveObject): void {
    if (this.live.get(key) === object) this.live.delete(key);
    object.close();
    this.roomFreed();
  }

  /** An event ended or an object left: the events waiting for room look again. */
  private roomFreed(): void {
    for (const wake of [...this.waiting]) wake();
  }

  /** What an error becomes on the caller's side: a refusal when a file could not be opened, else a copy (./overloaded.ts). */
  private crossing(error: unknown): unknown {
    const failed = overloadFields(error) === undefined ? openFailure(error) : undefined;
    if (failed === undefined) return copyError(error);
    const live = this.live.size;
    log("warn", "open-files-exhausted", { error: String(error), live, maxLive: this.maxLive, fileLimit: this.options.fileLimit ?? null });
    this.lowerCapBelow(live);
    // the files idle objects hold are what can be given back now, for the caller's next try
    this.closeIdle();
    const limit = this.options.fileLimit === undefined ? "" : ` of ${this.options.fileLimit}`;
    return new HostOverloaded(
      `the server is at its limit${limit} open files: ${failed}, with ${live} storage objects open (${FILES_PER_OBJECT} files each, at most ${this.maxLive}: RESTAGE_MAX_LIVE_OBJECTS); retry after a short wait, or raise the limit (ulimit -n) or lower RESTAGE_MAX_LIVE_OBJECTS`,
    );
  }

  /**
   * The process ran out of files with `live` objects open: the cap was more than the limit
   * holds, so it becomes a share of what was open. Left as it was, the objects would take every
   * file again at the next fan-out, and the connections accepted meanwhile would be closed
   * unanswered (libuv closes what it cannot give a file) instead of refused 503.
   */
  private lowerCapBelow(live: number): void {
    const lowered = Math.max(MIN_LOWERED_CAP, Math.floor(live * LOWERED_CAP_SHARE));
    if (lowered >= this.maxLive) return;
    log("warn", "live-objects-cap-lowered", { from: this.maxLive, to: lowered, fileLimit: this.options.fileLimit ?? null });
    this.maxLive = lowered;
  }

  private build(binding: string, id: ObjectId, key: string): LiveObject {
    const path = join(this.options.dataDir, binding, `${id}.sqlite`);
    const platform = this.options.platform;
    // the file is created by the object's first write: a unit only asked about leaves none
    const storage = new SqlStorage(() => openObjectDatabase(platform, path), {
      exists: () => existsSync(path),
      openEmpty: () => platform.openDatabase(":memory:"),
    });
    let object: LiveObject | undefined;
    const onBroken = () => {
      if (object && this.live.get(key) === object) this.live.delete(key);
      storage.close();
      this.roomFreed();
    };
    try {
      object = new LiveObject(this.options.classes[binding]!, id, this.env, {
        storage,
        path,
        alarm: this.alarmOf(binding, id),
        onBroken,
        onEventEnd: () => this.roomFreed(),
      });
    } catch (error) {
      storage.close();
      throw error;
    }
    return object;
  }

  private alarmOf(binding: string, id: ObjectId): ObjectAlarm {
    const key = `${binding}:${id}`;
    let alarm = this.alarms.get(key);
    if (!alarm) {
      const owner = { namespace: binding, id: id.toString(), name: id.name ?? null };
      alarm = new ObjectAlarm(this.alarmStore, owner, async (info) => {
        try {
          await (await this.object(binding, id)).deliverAlarm(info);
        } catch (error) {
          throw this.crossing(error);
        }
      });
      this.alarms.set(key, alarm);
    }
    return alarm;
  }
}

interface LiveObjectParts {
  storage: SqlStorage;
  path: string;
  alarm: ObjectAlarm;
  /** the constructor's `blockConcurrencyWhile` failed: the instance is dropped, the next event builds a new one */
  onBroken(): void;
  /** an event (or `waitUntil` work) ended */
  onEventEnd(): void;
}

/** One instance of a Durable Object class with its storage, alarm and input gate. */
class LiveObject {
  readonly storage: SqlStorage;
  private readonly gate = new InputGate();
  private readonly instance: Record<string, unknown>;
  private broken: unknown;
  /** events in progress, and when the last one ended */
  private active = 0;
  private lastActive = Date.now();

  private readonly onEventEnd: () => void;

  constructor(Class: ObjectClass, id: ObjectId, env: Record<string, unknown>, parts: LiveObjectParts) {
    this.storage = parts.storage;
    this.onEventEnd = parts.onEventEnd;
    const { storage, alarm, path } = parts;
    const gate = this.gate;
    const ctx = {
      id,
      storage: {
        sql: {
          exec: (query: string, ...bindings: unknown[]) => storage.exec(query, ...bindings),
          get databaseSize() {
            return storage.databaseSize;
          },
        },
        transactionSync: <T>(fn: () => T) => storage.transactionSync(fn),
        getAlarm: () => gate.closeWhile(async () => alarm.get()),
        setAlarm: (at: number | Date) => gate.closeWhile(async () => alarm.set(at instanceof Date ? at.getTime() : at)),
        deleteAlarm: () => gate.closeWhile(async () => alarm.delete()),
        deleteAll: () =>
          gate.closeWhile(async () => {
            storage.reopen(() => removeDatabaseFiles(path));
            alarm.delete();
          }),
      },
      blockConcurrencyWhile: <T>(fn: () => Promise<T>) =>
        gate.closeWhile(fn).catch((error: unknown) => {
          // as on Workers, a failed blockConcurrencyWhile resets the object
          this.broken = error;
          parts.onBroken();
          throw error;
        }),
      // work the object goes on with after an event: it keeps the object (and its file) live
      waitUntil: (promise: Promise<unknown>) => {
        this.active++;
        void promise.catch((error: unknown) => log("error", "wait-until-failed", { error: String(error) })).finally(() => this.ended());
      },
    };
    this.instance = new Class(ctx as never, env as never) as Record<string, unknown>;
  }

  /** Delivers an RPC call to a method of the instance. */
  deliver(method: string, args: unknown[]): Promise<unknown> {
    this.active++;
    return this.gate
      .deliver(async () => {
        if (this.broken !== undefined) throw this.broken;
        const target = this.instance[method];
        if (typeof target !== "function" || method === "constructor" || method.startsWith("_")) {
          throw new TypeError(`The RPC receiver does not implement the method "${method}".`);
        }
        return target.apply(this.instance, args);
      })
      .finally(() => this.ended());
  }

  private ended(): void {
    this.active--;
    this.lastActive = Date.now();
    this.onEventEnd();
  }

  /** Closes the object's file; an event that still comes to it fails. */
  close(): void {
    try {
      this.storage.close();
    } catch (error) {
      // a timer's close must never take the process down
      log("error", "object-close-failed", { error: String(error) });
    }
  }

  /** When the object last had no event in progress and its gate open; Infinity while busy. */
  idleSince(): number {
    return this.active === 0 && this.gate.isOpen ? this.lastActive : Infinity;
  }

  deliverAlarm(info: AlarmInvocationInfo): Promise<void> {
    return this.deliver("alarm", [info]) as Promise<void>;
  }
}

/** A stub: every property is an RPC method, except `id`, `name`, and `then` (a stub is not a promise). */
function createStub(host: ObjectHost, binding: string, id: ObjectId): object {
  return new Proxy(
    {},
    {
      get(_target, property) {
        if (property === "id") return id;
        if (property === "name") return id.name;
        if (typeof property !== "string" || property === "then") return undefined;
        return (...args: unknown[]) => host.call(binding, id, property, args);
      },
    },
  );
}

/** Opens an object's SQLite file the way Durable Objects keep theirs: WAL, foreign keys on. */
export function openObjectDatabase(platform: Platform, path: string): SqliteDatabase {
  const db = platform.openDatabase(path);
  try {
    // NORMAL loses nothing when the process dies, only (the last commits) if the machine does
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;");
  } catch (error) {
    // WAL opens two more files: when they cannot be opened, the handle must not stay open behind the error
    db.close();
    throw error;
  }
  return db;
}

function removeDatabaseFiles(path: string): void {
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
}

/** Errors cross RPC as copies, as on Workers; what cannot be copied arrives as its text. An overloaded error stays one. */
function copyError(error: unknown): unknown {
  let copy: unknown;
  try {
    copy = structuredClone(error);
  } catch {
    copy = new Error(String(error));
  }
  const overloaded = overloadFields(error);
  return overloaded && typeof copy === "object" && copy !== null ? Object.assign(copy, overloaded) : copy;
}
