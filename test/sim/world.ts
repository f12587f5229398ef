/**
 * One simulated deployment: the Worker's `fetch` (src/index.ts, the real Hono app) and its
 * Durable Object classes on a {@link SimHost} over in-memory SQLite, driven by one
 * {@link Scheduler}. Clients call {@link World.request}; the checks read each shard's
 * database directly.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import type { Env } from "../../src/env";
import worker, { Registry, StorageUnit } from "../../src/index";
import { setLogSink } from "../../src/log";
import { recordedCalls } from "../../src/modules/recorder";
import type { ObjectClass } from "../../src/runtime/objects";
import { shardName } from "../../src/routing/layout";
import { forgetLayouts } from "../../src/routing/router";
import { READS } from "../../src/yield-budget";
import { MemoryDisk } from "./memory-disk";
import { Scheduler } from "./scheduler";
import { SimHost } from "./sim-host";
import { installVirtualGlobals } from "./virtual-globals";

export const ADMIN = "sim-admin-token";

export interface Answer {
  status: number;
  body: Record<string, any>;
  /** objects crashed while the request ran: a 500 then may be the crash's, not a bug */
  crashed: boolean;
}

/** An HTTP exchange as a check sees it. */
export interface Exchange {
  method: string;
  path: string;
  token: string;
  status: number;
  message: string;
  crashed: boolean;
  startedAt: number;
  /** the step count when it was answered */
  answeredStep: number;
}

export class World {
  readonly scheduler: Scheduler;
  readonly host: SimHost;
  readonly env: Env;
  readonly exchanges: Exchange[] = [];
  private readonly disk = new MemoryDisk();
  private readonly restore: () => void;
  private readonly hostDb;

  constructor(
    readonly seed: number,
    private readonly dataDir: string,
  ) {
    this.scheduler = new Scheduler(seed);
    // a world is a new isolate: no layout learnt in another world may route its calls
    forgetLayouts();
    this.restore = installVirtualGlobals(this.scheduler);
    mkdirSync(dataDir, { recursive: true });
    this.hostDb = this.disk.platform.openDatabase(":memory:");
    this.host = new SimHost(
      {
        platform: this.disk.platform,
        dataDir,
        hostDatabase: this.hostDb,
        classes: { STORAGE_UNIT: StorageUnit as unknown as ObjectClass, REGISTRY: Registry as unknown as ObjectClass },
        // objects leave memory only by a crash: eviction would hide the crashes' effect
        idleEvictMs: 1e12,
      },
      this.scheduler,
    );
    this.env = {
      ADMIN_TOKEN: ADMIN,
      TOKEN_SECRET: "sim-token-secret",
      RESTAGE_TEST_MODULES: "true",
      ...this.host.namespaces,
    } as unknown as Env;
    this.host.start(this.env as unknown as Record<string, unknown>);
    recordedCalls.length = 0;
    freshReadBudget(this.scheduler.now);
    setLogSink((entry) => {
      if (entry.level === "info") return;
      // a stack is left out: V8 prints fewer frames once it has optimised the code, so it differs between runs of one seed
      const { stack: _stack, ...fields } = entry as Record<string, unknown>;
      this.scheduler.trace.push(`${this.scheduler.now} log ${entry.event} ${JSON.stringify(fields).slice(0, 300)}`);
    });
  }

  /** A client request through the Worker's fetch; it starts when the scheduler picks it. */
  async request(method: string, path: string, body?: unknown, token: string = ADMIN): Promise<Answer> {
    await this.scheduler.step(`client ${method} ${path}${token === ADMIN ? "" : ` as ${token.slice(0, 6)}`}`);
    const startedAt = this.scheduler.now;
    const crashesBefore = this.host.crashes;
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    let payload: string | undefined;
    if (typeof body === "string") payload = body;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers["content-type"] = "application/json";
    }
    const pending: Promise<unknown>[] = [];
    const ctx = {
      waitUntil: (promise: Promise<unknown>) => void pending.push(promise.catch(() => {})),
      passThroughOnException() {},
      props: {},
    } as unknown as ExecutionContext;
    const response = await worker.fetch(new Request(`http://sim${path}`, { method, headers, body: payload }) as never, this.env, ctx);
    const text = await response.text();
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = { message: `(not JSON) ${text.slice(0, 80)}` };
    }
    const crashed = this.host.crashes !== crashesBefore;
    this.exchanges.push({
      method,
      path,
      token,
      status: response.status,
      message: String(parsed.message ?? ""),
      crashed,
      startedAt,
      answeredStep: this.scheduler.trace.length,
    });
    this.scheduler.trace.push(`${this.scheduler.now} answer ${response.status} ${String(parsed.message ?? "")} ← ${method} ${path}`);
    return { status: response.status, body: parsed, crashed };
  }

  /** Shard `index` of `unit`'s database as it stands (undefined: the object never wrote). */
  shardDb(unit: string, index: number): DatabaseSync | undefined {
    const id = this.host.namespaces.STORAGE_UNIT!.idFromName(shardName(unit, index));
    return this.disk.database(join(this.dataDir, "STORAGE_UNIT", `${id}.sqlite`));
  }

  /** The live object key of a unit's shard, as the host names it. */
  shardKey(unit: string, index: number): string {
    return `STORAGE_UNIT:${this.host.namespaces.STORAGE_UNIT!.idFromName(shardName(unit, index))}`;
  }

  close(): void {
    this.host.stop();
    this.hostDb.close();
    this.disk.close();
    setLogSink(undefined);
    this.restore();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/**
 * The process's budget of reads (src/yield-budget.ts) was made at import, with the machine's
 * clock, and outlives a world: where reads yield would depend on the machine and on earlier
 * seeds, and a seed would not replay. Each world starts it afresh on the virtual clock;
 * should the budget change shape, this says so rather than replay wrongly.
 */
function freshReadBudget(now: number): void {
  const budget = READS as unknown as Record<string, unknown>;
  for (const field of ["spent", "since", "yielding", "clock"]) {
    if (!(field in budget)) throw new Error(`the read budget has no '${field}' any more: the simulation cannot reset it (test/sim/world.ts)`);
  }
  Object.assign(budget, { spent: 0, since: now, yielding: undefined, clock: () => Date.now() });
}
