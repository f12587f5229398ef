/**
 * The self-hosted Durable Object host (src/runtime/objects.ts) on Node's SQLite, with small
 * object classes: one instance per name, RPC copies, the input gate, alarms that survive
 * a restart and are retried, and deleteAll.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import * as nodePlatform from "../../src/runtime/adapters/node";
import { openDataDir } from "../../src/runtime/data-dir";
import { ObjectHost, openObjectDatabase, type ObjectClass, type ObjectHostOptions } from "../../src/runtime/objects";
import { HostOverloaded } from "../../src/runtime/overloaded";
import type { Platform, SqliteDatabase } from "../../src/runtime/platform";
import type { UnitState } from "../../src/unit/sql";
import { captureLogs } from "../support/logs";

type Ctx = UnitState & { id: { name?: string }; waitUntil(promise: Promise<unknown>): void };
/** What a stub of Notes offers: each method, called by RPC; plus one Notes does not have. */
type Stub = { [K in keyof Notes as Notes[K] extends (...args: never[]) => unknown ? K : never]: (...args: any[]) => Promise<any> } & {
  noSuchMethod(): Promise<unknown>;
};

/** A promise and its resolver, to let a test decide when an await ends. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
}

const alarmRuns: Array<{ name?: string; retryCount: number; isRetry: boolean; alarmDuringRun: number | null }> = [];
let alarmOutcomes: Array<"ok" | "throw"> = [];
let alarmRan = deferred();

class Notes {
  private readonly memory: string[] = [];
  constructor(
    readonly ctx: Ctx,
    readonly env: unknown,
  ) {
    // a failure resets the instance (the host's part, tested below): nothing to do with it here
    ctx
      .blockConcurrencyWhile(async () => {
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS notes (text TEXT)");
      })
      .catch(() => undefined);
  }
  async add(text: string) {
    this.ctx.storage.sql.exec("INSERT INTO notes VALUES (?)", text);
    this.memory.push(text);
    return { stored: this.all(), inMemory: this.memory.length };
  }
  all(): string[] {
    return this.ctx.storage.sql
      .exec<{ text: string }>("SELECT text FROM notes ORDER BY rowid")
      .toArray()
      .map((row) => row.text);
  }
  async list() {
    return this.all();
  }
  async echo(value: unknown) {
    return value;
  }
  async shared() {
    this.sharedValue ??= { count: 0 };
    return this.sharedValue;
  }
  private sharedValue: { count: number } | undefined;
  async fail() {
    throw new RangeError("out of range on purpose");
  }
  async overload() {
    throw new HostOverloaded("what ran out, on purpose");
  }
  /** Goes on after the call with work of its own until `gate` opens. */
  async linger(gate: string) {
    this.ctx.waitUntil(waits.get(gate)!.promise);
  }
  /** Waits on something that is not its storage: other events may run meanwhile. */
  async waitOn(gate: string) {
    await waits.get(gate)!.promise;
    return this.all();
  }
  /** Holds the object inside blockConcurrencyWhile until `gate` opens. */
  async block(gate: string) {
    await this.ctx.blockConcurrencyWhile(() => waits.get(gate)!.promise);
    return "unblocked";
  }
  /** Writes, awaits its own storage (an alarm read), and writes again: nothing may come between. */
  async twoWrites(tag: string) {
    this.ctx.storage.sql.exec("INSERT INTO notes VALUES (?)", `${tag}-1`);
    await this.ctx.storage.getAlarm();
    this.ctx.storage.sql.exec("INSERT INTO notes VALUES (?)", `${tag}-2`);
  }
  async setAlarm(at: number) {
    await this.ctx.storage.setAlarm(at);
  }
  async getAlarm() {
    return this.ctx.storage.getAlarm();
  }
  async wipe() {
    await this.ctx.storage.deleteAll();
    this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS notes (text TEXT)");
  }
  async alarm(info: { retryCount: number; isRetry: boolean }) {
    alarmRuns.push({ name: this.ctx.id.name, ...info, alarmDuringRun: await this.ctx.storage.getAlarm() });
    const outcome = alarmOutcomes.shift() ?? "ok";
    alarmRan.resolve();
    if (outcome === "throw") throw new Error("alarm failed on purpose");
  }
}

const waits = new Map<string, { promise: Promise<void>; resolve: () => void }>();
const dirs: string[] = [];
const hosts: Array<{ stop(): void }> = [];

/** Node's platform, with opens of object files that fail as at the file limit while `failOpens` > 0. */
let failOpens = 0;
const platform: Platform = {
  ...nodePlatform,
  openDatabase(path) {
    if (path.endsWith(".sqlite") && !path.endsWith("host.sqlite") && failOpens > 0) {
      failOpens--;
      throw Object.assign(new Error("unable to open database file"), { code: "ERR_SQLITE_ERROR", errcode: 14 });
    }
    return nodePlatform.openDatabase(path);
  },
};

type HostSettings = Pick<ObjectHostOptions, "maxLiveObjects" | "roomWaitMs">;

function openHost(dataDir = mkdtempSync(join(tmpdir(), "restage-host-")), idleEvictMs?: number, settings: HostSettings = {}) {
  dirs.push(dataDir);
  const hostDatabase = openDataDir(platform, dataDir);
  const host = new ObjectHost({
    platform,
    dataDir,
    hostDatabase,
    idleEvictMs,
    fileLimit: 600,
    ...settings,
    classes: { NOTES: Notes as unknown as ObjectClass },
  });
  const env = { NOTES: host.namespaces.NOTES };
  host.start(env);
  let stopped = false;
  const handle = {
    dataDir,
    host,
    notes: (name: string) => host.namespaces.NOTES!.getByName(name) as Stub,
    stop() {
      if (stopped) return;
      stopped = true;
      host.stop();
      hostDatabase.close();
    },
  };
  hosts.push(handle);
  return handle;
}

afterEach(() => {
  for (const host of hosts.splice(0)) host.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  alarmRuns.length = 0;
  alarmOutcomes = [];
  alarmRan = deferred();
  waits.clear();
  failOpens = 0;
});

describe("objects", () => {
  it("keeps one instance per name, and each name its own storage", async () => {
    const host = openHost();
    await host.notes("a").add("one");
    expect(await host.notes("a").add("two")).toEqual({ stored: ["one", "two"], inMemory: 2 });
    expect(await host.notes("b").add("other")).toEqual({ stored: ["other"], inMemory: 1 });
  });

  it("finds the stored data again after a restart on the same folder", async () => {
    const first = openHost();
    await first.notes("a").add("kept");
    first.stop();
    const second = openHost(first.dataDir);
    expect(await second.notes("a").list()).toEqual(["kept"]);
  });

  it("drops an idle object and builds it anew, with its data, on the next call; never a busy one", async () => {
    const host = openHost(undefined, 20);
    const stub = host.notes("a");
    await stub.add("one");
    waits.set("busy", deferred());
    const busy = host.notes("b").waitOn("busy");
    await host.notes("b").add("b-one");
    await new Promise((resolve) => setTimeout(resolve, 100));
    // a fresh instance: its memory is new, its storage is the same file
    expect(await stub.add("two")).toEqual({ stored: ["one", "two"], inMemory: 1 });
    // "b" had a call in progress all along: the same instance
    expect(await host.notes("b").add("b-two")).toEqual({ stored: ["b-one", "b-two"], inMemory: 2 });
    waits.get("busy")!.resolve();
    expect(await busy).toEqual(["b-one", "b-two"]);
  });

  it("copies arguments and results across the stub, as RPC does", async () => {
    const host = openHost();
    const stub = host.notes("a");
    const result = await stub.shared();
    result.count = 99;
    expect(await stub.shared()).toEqual({ count: 0 });
    class Point {
      constructor(readonly x: number) {}
    }
    const echoed = await stub.echo({ when: new Date(0), point: new Point(1), bytes: new Uint8Array([7]) });
    expect(echoed.when).toBeInstanceOf(Date);
    expect(echoed.point).not.toBeInstanceOf(Point);
    expect(echoed.point).toEqual({ x: 1 });
    await expect(stub.echo(() => 1)).rejects.toThrow(/could not be cloned/);
  });

  it("rethrows the object's error as a copy, and refuses methods it does not have", async () => {
    const stub = openHost().notes("a");
    await expect(stub.fail()).rejects.toThrow(RangeError);
    await expect(stub.fail()).rejects.toThrow("out of range on purpose");
    await expect(stub.noSuchMethod()).rejects.toThrow(/does not implement the method "noSuchMethod"/);
    // a stub is not a promise: awaiting it gives the stub
    expect(await (stub as unknown as Promise<unknown>)).toBe(stub);
  });
});

describe("input gate", () => {
  it("lets other calls run while a call awaits something other than its storage", async () => {
    const stub = openHost().notes("a");
    waits.set("fetch", deferred());
    const hung = stub.waitOn("fetch");
    // the object answers while the first call still waits (a hung publisher must not block status)
    expect(await stub.add("meanwhile")).toMatchObject({ stored: ["meanwhile"] });
    waits.get("fetch")!.resolve();
    expect(await hung).toEqual(["meanwhile"]);
  });

  it("holds every other call while blockConcurrencyWhile runs", async () => {
    const stub = openHost().notes("a");
    waits.set("block", deferred());
    const order: string[] = [];
    const blocking = stub.block("block").then(() => order.push("unblocked"));
    const adding = stub.add("after").then(() => order.push("added"));
    // give the second call every chance to slip through
    await new Promise((resolve) => setTimeout(resolve, 20));
    waits.get("block")!.resolve();
    await Promise.all([blocking, adding]);
    expect(order).toEqual(["unblocked", "added"]);
  });

  it("delivers no other call between a storage await and the code after it", async () => {
    const stub = openHost().notes("a");
    await Promise.all([stub.twoWrites("x"), stub.twoWrites("y"), stub.add("z")]);
    const notes: string[] = await stub.list();
    expect(notes.indexOf("x-2")).toBe(notes.indexOf("x-1") + 1);
    expect(notes.indexOf("y-2")).toBe(notes.indexOf("y-1") + 1);
  });
});

describe("alarms", () => {
  it("fires alarm() once at the time set; getAlarm is null while it runs", async () => {
    const stub = openHost().notes("a");
    await stub.setAlarm(Date.now() + 50);
    expect(await stub.getAlarm()).toBeTypeOf("number");
    await alarmRan.promise;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(alarmRuns).toEqual([{ name: "a", retryCount: 0, isRetry: false, alarmDuringRun: null }]);
    expect(await stub.getAlarm()).toBeNull();
  });

  it("fires an alarm set before a restart, without any call to the object", async () => {
    const first = openHost();
    await first.notes("sleeper").setAlarm(Date.now() + 300);
    first.stop();
    openHost(first.dataDir);
    await alarmRan.promise;
    expect(alarmRuns).toEqual([{ name: "sleeper", retryCount: 0, isRetry: false, alarmDuringRun: null }]);
  });

  it("retries an alarm() that throws and set no new alarm", async () => {
    const logs = captureLogs();
    const stub = openHost().notes("a");
    alarmOutcomes = ["throw", "ok"];
    await stub.setAlarm(Date.now());
    await alarmRan.promise;
    alarmRan = deferred();
    await alarmRan.promise;
    expect(alarmRuns.map(({ retryCount, isRetry }) => ({ retryCount, isRetry }))).toEqual([
      { retryCount: 0, isRetry: false },
      { retryCount: 1, isRetry: true },
    ]);
    expect(logs.of("alarm-failed")).toEqual([
      expect.objectContaining({ namespace: "NOTES", name: "a", retryCount: 0, error: "Error: alarm failed on purpose" }),
    ]);
  });

  it("deleteAll() drops the data and the alarm, and the object carries on", async () => {
    const stub = openHost().notes("a");
    await stub.add("gone");
    await stub.setAlarm(Date.now() + 60_000);
    await stub.wipe();
    expect(await stub.getAlarm()).toBeNull();
    expect(await stub.add("fresh")).toEqual({ stored: ["fresh"], inMemory: 2 });
  });
});

describe("live objects and open files", () => {
  const fresh = { inMemory: 1 };

  it("keeps at most maxLiveObjects in memory, closing the least recently used idle one first", async () => {
    const host = openHost(undefined, undefined, { maxLiveObjects: 2 });
    await host.notes("a").add("a1");
    await host.notes("b").add("b1");
    // "a" is now the more recently used: "b" makes room for "c"
    await host.notes("a").add("a2");
    await host.notes("c").add("c1");
    expect(host.host.liveCount).toBe(2);
    expect(await host.notes("a").add("a3")).toMatchObject({ stored: ["a1", "a2", "a3"], inMemory: 3 });
    // "b" comes back from its file, as a fresh instance
    expect(await host.notes("b").add("b2")).toMatchObject({ stored: ["b1", "b2"], ...fresh });
    expect(host.host.liveCount).toBe(2);
  });

  it("never closes one with a call in progress: another waits for room, and is refused OVERLOADED when none comes", async () => {
    const host = openHost(undefined, undefined, { maxLiveObjects: 1, roomWaitMs: 50 });
    waits.set("busy", deferred());
    const busy = host.notes("a").waitOn("busy");
    const refused = await host
      .notes("b")
      .add("b1")
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ overloaded: true, retryAfter: 1 });
    expect((refused as { detail: string }).detail).toMatch(/limit of 1 storage objects in memory \(RESTAGE_MAX_LIVE_OBJECTS\) and every one is busy/);
    // "a" was never closed: the same instance answers
    expect(await host.notes("a").add("a1")).toMatchObject({ inMemory: 1 });
    waits.get("busy")!.resolve();
    await busy;
  });

  it("an event waiting for room goes on once the busy object's call ends", async () => {
    const host = openHost(undefined, undefined, { maxLiveObjects: 1 });
    waits.set("busy", deferred());
    const busy = host.notes("a").waitOn("busy");
    const waiting = host.notes("b").add("b1");
    waits.get("busy")!.resolve();
    expect(await waiting).toMatchObject({ stored: ["b1"], ...fresh });
    await busy;
    expect(host.host.liveCount).toBe(1);
  });

  it("keeps an object live while work it handed to waitUntil goes on", async () => {
    const host = openHost(undefined, undefined, { maxLiveObjects: 1, roomWaitMs: 50 });
    waits.set("after", deferred());
    await host.notes("a").linger("after");
    await expect(host.notes("b").add("b1")).rejects.toMatchObject({ overloaded: true });
    waits.get("after")!.resolve();
    expect(await host.notes("b").add("b1")).toMatchObject(fresh);
  });

  /** A host on a folder where "a" and "b" have files already, with "a" live. */
  async function hostWithFiles() {
    const first = openHost();
    await first.notes("a").add("a1");
    await first.notes("b").add("b1");
    first.stop();
    const host = openHost(first.dataDir);
    await host.notes("a").list();
    return host;
  }

  const detailOf = (error: unknown) => (error as { detail: string }).detail;

  it("an object's file that cannot be opened for want of file handles: OVERLOADED naming what ran out, and the server goes on", async () => {
    const host = await hostWithFiles();
    const logs = captureLogs();
    // the open fails; the files of idle objects are given back and it fails again
    failOpens = 2;
    const refused = await host
      .notes("b")
      .list()
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ overloaded: true, retryAfter: 1 });
    expect(detailOf(refused)).toMatch(/at its limit of 600 open files: SQLite could not open a database file \(SQLITE_CANTOPEN\)/);
    expect(detailOf(refused)).not.toContain(host.dataDir);
    expect(logs.of("open-files-exhausted")).toEqual([expect.objectContaining({ error: "Error: unable to open database file", fileLimit: 600 })]);
    // once files are free again, every object answers, its data intact
    expect(await host.notes("b").add("b2")).toMatchObject({ stored: ["b1", "b2"] });
    expect(await host.notes("a").list()).toEqual(["a1"]);
  });

  it("gives back the files of idle objects when an open fails, and tries once more", async () => {
    const host = await hostWithFiles();
    failOpens = 1;
    expect(await host.notes("b").add("b2")).toMatchObject({ stored: ["b1", "b2"], ...fresh });
    // "a" was closed to free the files
    expect(await host.notes("a").add("a2")).toMatchObject({ stored: ["a1", "a2"], ...fresh });
  });

  it("a new object whose first write cannot create its file: OVERLOADED, and the next call creates it", async () => {
    const host = openHost();
    captureLogs();
    failOpens = 1;
    const refused = await host
      .notes("new")
      .add("n1")
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ overloaded: true });
    expect(detailOf(refused)).toContain("SQLITE_CANTOPEN");
    expect(await host.notes("new").add("n1")).toMatchObject({ stored: ["n1"] });
  });

  it("keeps an overloaded error one across the stub, with its detail", async () => {
    const stub = openHost().notes("a");
    await expect(stub.overload()).rejects.toMatchObject({ overloaded: true, detail: "what ran out, on purpose", retryAfter: 1 });
  });

  it("closes the handle when the PRAGMAs of a new file fail (they open the WAL files)", () => {
    let closed = 0;
    const failing: Platform = {
      ...nodePlatform,
      openDatabase: (): SqliteDatabase => ({
        query: () => [],
        exec: () => {
          throw new Error("unable to open database file");
        },
        close: () => void closed++,
      }),
    };
    expect(() => openObjectDatabase(failing, "x.sqlite")).toThrow("unable to open database file");
    expect(closed).toBe(1);
  });
});
