/**
 * The self-hosted stand-in for the Durable Object runtime: namespaces (`idFromName`,
 * `get`), stubs whose method calls behave like RPC, and one live instance per object,
 * built with a `ctx` of the shape src/unit/sql.ts (`UnitState`) describes.
 *
 * Invariants: at most one instance per (namespace, id) in this process; one idle for
 * `idleEvictMs` is dropped (its file closed) and built anew by the next event, as Workers
 * evicts idle objects, so a server with thousands of units keeps few files open. Arguments and results
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
import type { Platform, SqliteDatabase } from "./platform";
import { SqlStorage } from "./sql-storage";
import { log } from "../log";

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
}

export class ObjectHost {
  /** the namespaces, to put in `env` under their binding names */
  readonly namespaces: Record<string, ObjectNamespace> = {};
  private readonly alarmStore: AlarmStore;
  private readonly alarms = new Map<string, ObjectAlarm>();
  private readonly live = new Map<string, LiveObject>();
  private env: Record<string, unknown> = {};
  private sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly options: ObjectHostOptions) {
    this.alarmStore = new AlarmStore(options.hostDatabase);
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
    for (const object of this.live.values()) object.storage.close();
    this.live.clear();
  }

  /** An RPC call through a stub: copies in, one event through the gate, copies out. */
  async call(binding: string, id: ObjectId, method: string, args: unknown[]): Promise<unknown> {
    const payload = structuredClone(args);
    try {
      const result = await this.object(binding, id).deliver(method, payload);
      return structuredClone(result);
    } catch (error) {
      throw copyError(error);
    }
  }

  /** Drops the objects that have had no event in progress for `idleMs`; their next event builds them anew. */
  private evictIdle(idleMs: number, now = Date.now()): void {
    for (const [key, object] of this.live) {
      if (object.idleSince() > now - idleMs) continue;
      this.live.delete(key);
      object.storage.close();
    }
  }

  private object(binding: string, id: ObjectId): LiveObject {
    const key = `${binding}:${id}`;
    let object = this.live.get(key);
    if (object) return object;
    const path = join(this.options.dataDir, binding, `${id}.sqlite`);
    const platform = this.options.platform;
    // the file is created by the object's first write: a unit only asked about leaves none
    const storage = new SqlStorage(() => openObjectDatabase(platform, path), {
      exists: () => existsSync(path),
      openEmpty: () => platform.openDatabase(":memory:"),
    });
    const onBroken = () => {
      if (this.live.get(key)?.storage === storage) this.live.delete(key);
      storage.close();
    };
    try {
      object = new LiveObject(this.options.classes[binding]!, id, this.env, { storage, path, alarm: this.alarmOf(binding, id), onBroken });
    } catch (error) {
      storage.close();
      throw error;
    }
    this.live.set(key, object);
    return object;
  }

  private alarmOf(binding: string, id: ObjectId): ObjectAlarm {
    const key = `${binding}:${id}`;
    let alarm = this.alarms.get(key);
    if (!alarm) {
      const owner = { namespace: binding, id: id.toString(), name: id.name ?? null };
      alarm = new ObjectAlarm(this.alarmStore, owner, (info) => this.object(binding, id).deliverAlarm(info));
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

  constructor(Class: ObjectClass, id: ObjectId, env: Record<string, unknown>, parts: LiveObjectParts) {
    this.storage = parts.storage;
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
      waitUntil: (promise: Promise<unknown>) => void promise.catch((error: unknown) => log("error", "wait-until-failed", { error: String(error) })),
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
      .finally(() => {
        this.active--;
        this.lastActive = Date.now();
      });
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
function openObjectDatabase(platform: Platform, path: string): SqliteDatabase {
  const db = platform.openDatabase(path);
  // NORMAL loses nothing when the process dies, only (the last commits) if the machine does
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;");
  return db;
}

function removeDatabaseFiles(path: string): void {
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
}

/** Errors cross RPC as copies, as on Workers; what cannot be copied arrives as its text. */
function copyError(error: unknown): unknown {
  try {
    return structuredClone(error);
  } catch {
    return new Error(String(error));
  }
}
