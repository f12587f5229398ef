/**
 * A split of the unit from n to m shards, as one shard takes part in it (README, "Design:
 * sharded storage units", "Splitting n → m"). Owns tables `split` (an old shard's move:
 * the count it moves to, its cursor, keys gone through and to go through, whether it has
 * finished and told shard 0) and `split_reports` (on shard 0: the old shards that have).
 *
 * Writes go on while the layout has `splitTo`: a client's write of a key lands where the
 * key is at that moment ({@link Split.placeOf}): on its old shard until the cursor passes
 * it (it then moves with the rest), on its new shard after. Each old shard i moves its
 * keys from its alarm ({@link Split.step}), a batch at a time
 * inside `blockConcurrencyWhile` (no request runs on i meanwhile): the rows of the batch's
 * keys whose new shard j = shardOf(key, m) is not i go to j, which replaces its rows of
 * those keys with them (split-rows.ts); then, in one transaction, i deletes them and moves
 * its cursor past the batch. A crash anywhere resumes at the cursor, sending again what
 * may have been sent: nothing is lost or doubled.
 *
 * Invariants: a key of another shard at or before the cursor (or in the batch being sent,
 * for a module's write) is no longer here: reads of it go on to its new shard
 * (split-forward.ts), a module's write or reference to it is refused (the item runs again
 * on the new shard, after its lease). Fills stand still on every shard while a split
 * runs, so a fill sent with i's cursor misses no key that arrives later; a run started
 * meanwhile queues nothing and reaches every key by its fill (split-runs.ts). Shard 0 ends the
 * split once every old shard has reported, on every shard, itself last.
 */
import { failure, isFailure, type Failure } from "../errors";
import { forEachConcurrently } from "../concurrency";
import { log } from "../log";
import type { ModulesConfig, ReprocessingSettings, Schedule } from "../schemas";
import { isShardCount, moved, sameLayout, splitCounts, type Moved, type ShardLayout } from "../routing/layout";
import { destinationOf, ownerOf, shardOf } from "../routing/placement";
import type { ConfigStore, UnitConfig } from "./config";
import type { FillPosition, Fills } from "./fills";
import { ADMIN_CALL, type GrantStore, type Permission } from "./grants";
import { migrate } from "./migrations";
import { compareKeys } from "./record-scan";
import { closingRows, countKeys, deleteRange, keysOf, nextKeys, readRange, replaceRange, type KeyRange, type KeyRows } from "./split-rows";
import { recountRuns } from "./split-runs";
import type { Sql } from "./sql";
import type { StorageUnit } from "./storage-unit";

/**
 * The time one batch may hold the old shard: requests wait about this long at most. Each
 * batch is sized from the last to take about this long (its keys at most doubled, between
 * {@link MIN_KEYS} and {@link MAX_KEYS}), starting at {@link FIRST_KEYS}, and carries at most
 * {@link MOVE_BYTES} of content.
 */
const MOVE_MS = 80;
const FIRST_KEYS = 500;
const MIN_KEYS = 200;
const MAX_KEYS = 5000;
const MOVE_BYTES = 4 * 1024 * 1024;
/** Time an alarm spends moving before the job gets its turn. */
const STEP_MS = 2000;
/** Wait before a failed step (a new shard that did not answer) is tried again. */
const RETRY_MS = 1000;
/** New shards sent to at once: the connection limit of one invocation. */
const PEERS_AT_ONCE = 6;
/** Times a batch is sent again because its rows changed while it travelled (a running batch completed its items). */
const RESENDS = 3;

/** The progress of a split, as `reprocess/status` and `getStorageUnit` show it (summed over the shards). */
export interface SplitProgress {
  from: number;
  to: number;
  moved: number;
  total: number;
}

/** What every shard of a unit holds alike: a split gives it to the new shards. */
export interface UnitWideState {
  contentProcessing: boolean;
  reprocessingQueue: boolean;
  paused: boolean;
  settings: ReprocessingSettings;
  modules: ModulesConfig;
  schedules: Schedule[];
  grants: Array<{ user: string; tokenHash: string; permission: Permission }>;
}

/** Another shard of this unit, by RPC. */
export type Peer = { [K in keyof StorageUnit]: StorageUnit[K] };

/** The steps of a split, as shards call them on each other (`StorageUnit.splitting`). */
export type SplitCall =
  /** shard 0: the Worker's splitStorageUnit; shard 0 takes the split's lock and starts it */
  | { op: "begin"; to: number }
  /** a new shard: laid with shard 0's state */
  | { op: "lay"; name: string; index: number; layout: ShardLayout; state: UnitWideState }
  /** an old shard: the split begins */
  | { op: "start"; to: number }
  /** a new shard: a batch of rows arrives */
  | { op: "receive"; to: number; batch: KeyRows; fills: FillPosition[] }
  /** shard 0: an old shard has moved all it had to */
  | { op: "report"; shard: number; to: number }
  /** every shard: the split has ended */
  | { op: "end"; to: number };
export type SplitAnswer<C extends SplitCall> = C extends { op: "begin" } ? { layout: ShardLayout } : { ok: true };

export interface SplitHost {
  sql: Sql;
  config: ConfigStore;
  grants: GrantStore;
  fills: Fills;
  blockConcurrencyWhile<T>(fn: () => Promise<T>): Promise<T>;
  /** shard `index` of the unit `unit` */
  peer(unit: string, index: number): Peer;
  /** empties the object (a leftover of another unit where a new shard is to be laid) */
  destroy(): Promise<unknown>;
  rearm(): Promise<void>;
}

type SplitRow = { split_to: number; cursor: string | null; moved: number; total: number; done: number; reported: number; laid: number };

export class Split {
  /** the last key of the batch being sent: a module may no longer write it (see {@link away}) */
  private fence: string | undefined;
  /** no step before this time, after one failed */
  private retryAt = 0;
  /** the keys the next batch may take (see {@link MOVE_MS}) */
  private batchKeys = FIRST_KEYS;
  /** the time a step moves batches for, one batch at least (a test takes one batch at a time) */
  private stepMs = STEP_MS;
  /** shard 0: the start of a split in flight (new shards laid, old ones told), see {@link settled} */
  private starting: Promise<void> | undefined;

  constructor(private readonly host: SplitHost) {}

  /** A step of the split called on this shard of the existing unit (every step but "lay"). */
  handle<C extends SplitCall>(unit: UnitConfig, call: C): SplitAnswer<C> | Promise<SplitAnswer<C> | Failure> {
    type Answer = Promise<SplitAnswer<C> | Failure>;
    switch (call.op) {
      case "begin":
        return this.begin(unit, call.to) as Answer;
      case "start":
        return this.start(unit, call.to) as Answer;
      case "receive":
        return this.receive(unit, call.to, call.batch, call.fills) as Answer;
      case "report":
        return this.noteReport(unit, call.shard, call.to) as Answer;
      case "end":
        return this.end(unit, call.to) as Answer;
      default:
        return Promise.resolve(failure("INVALID_REQUEST", `no split step '${call.op}' on a unit that exists`));
    }
  }

  // ── the start (the Worker's splitStorageUnit, on shard 0) ──────────────────

  /**
   * Shard 0 takes the split's lock (its `split` row, not yet `laid`) and exports nothing yet:
   * from here until the start has ended, every unit-wide change waits on shard 0
   * ({@link settled}), so none can fall between the state the new shards are laid with and
   * the layout that sends changes to them too. A second split meets the lock: 409.
   */
  private async begin(unit: UnitConfig, to: number): Promise<{ layout: ShardLayout } | Failure> {
    if (unit.shard !== 0) return failure("INVALID_REQUEST", "a split begins on shard 0");
    const row = this.row();
    if (row || unit.layout.splitTo !== null) {
      const target = unit.layout.splitTo ?? row?.split_to;
      return failure(
        "STORAGE_UNIT_SPLITTING",
        `storage unit '${unit.name}' is already splitting from ${unit.layout.shards} to ${target} shards; split it again once that has ended (GET /reprocess/status/${unit.name})`,
      );
    }
    if (!isShardCount(to) || to <= unit.layout.shards) return failure("INVALID_REQUEST", splitCounts(unit.layout.shards));
    this.host.sql.exec("INSERT INTO split (id, split_to, total, laid) VALUES (1, ?, ?, 0)", to, countKeys(this.host.sql));
    // should this object stop before the start has ended, its alarm finishes it
    await this.host.rearm();
    // a start that cannot end now is finished by the alarm: the split is recorded all the same
    await this.settled();
    return { layout: this.host.config.get()!.layout };
  }

  /**
   * On shard 0, once a split's start has ended or failed (at once when none is starting); a
   * start cut short (a crash, a new shard that did not answer) is tried again here, by
   * whichever call comes first: a unit-wide change, the alarm. A change made after a failed
   * try is safe: shard 0 still routes by the old shards (the next try lays the new ones with
   * the state as it is then), or the new shards are laid and the change is routed to them.
   */
  settled(): Promise<void> | undefined {
    const unit = this.host.config.get();
    if (unit?.shard !== 0) return undefined;
    const row = this.row();
    if (!row || row.laid) return undefined;
    this.starting ??= this.finishStart(unit, row.split_to)
      .catch((error: unknown) => {
        this.retryAt = Date.now() + RETRY_MS;
        log("warn", "split-start-failed", { unit: unit.name, error: String(error) });
      })
      .finally(() => {
        this.starting = undefined;
      });
    return this.starting;
  }

  /** Lays the new shards with the unit-wide state as it is now, records the split here, then on the other old shards. Each step may be done twice. */
  private async finishStart(unit: UnitConfig, to: number): Promise<void> {
    const layout: ShardLayout = { ...unit.layout, splitTo: to };
    const state = this.unitState(unit);
    const fresh = Array.from({ length: to - unit.layout.shards }, (_, index) => unit.layout.shards + index);
    await this.onPeers(unit.name, fresh, (peer, index) => peer.splitting(ADMIN_CALL, { op: "lay", name: unit.name, index, layout, state }));
    this.host.config.update({ layout });
    const old = Array.from({ length: unit.layout.shards - 1 }, (_, index) => index + 1);
    await this.onPeers(unit.name, old, (peer) => peer.splitting(ADMIN_CALL, { op: "start", to }));
    this.host.sql.exec("UPDATE split SET laid = 1");
    await this.host.rearm();
  }

  /** What a new shard takes from shard 0. */
  private unitState(unit: UnitConfig): UnitWideState {
    const { contentProcessing, reprocessingQueue, paused, settings, modules, schedules } = unit;
    return { contentProcessing, reprocessingQueue, paused, settings, modules, schedules, grants: this.host.grants.all() };
  }

  /** Lays new shard `index` of `name`, or brings a shard laid by a start cut short up to date. */
  async lay({ name, index, layout, state }: { name: string; index: number; layout: ShardLayout; state: UnitWideState }): Promise<{ ok: true }> {
    const mine = this.host.config.get();
    if (mine && !(mine.name === name && mine.shard === index && sameLayout(mine.layout, layout))) await this.host.destroy();
    if (!this.host.config.get()) {
      migrate(this.host.sql);
      this.host.config.create(name, state.contentProcessing, state.reprocessingQueue, index, layout);
    }
    this.host.sql.transaction(() => {
      const { grants, ...config } = state;
      this.host.config.update(config);
      this.host.sql.exec("DELETE FROM grants");
      for (const grant of grants) this.host.grants.set(grant.user, grant.tokenHash, grant.permission);
    });
    return { ok: true };
  }

  /** An old shard learns the split: its keys are counted, its alarm starts moving them. */
  private async start(unit: UnitConfig, to: number): Promise<{ ok: true }> {
    // a start said again once this shard has ended the split (a slow retry) changes nothing
    if (unit.layout.shards >= to) return { ok: true };
    this.host.sql.transaction(() => {
      if (!this.row()) this.host.sql.exec("INSERT INTO split (id, split_to, total) VALUES (1, ?, ?)", to, countKeys(this.host.sql));
      this.host.config.update({ layout: { ...unit.layout, splitTo: to } });
    });
    await this.host.rearm();
    return { ok: true };
  }

  /** `call` on each of `indexes`, {@link PEERS_AT_ONCE} at a time; throws at the first failure. */
  private onPeers(unit: string, indexes: number[], call: (peer: Peer, index: number) => Promise<unknown>): Promise<void> {
    return forEachConcurrently(indexes, PEERS_AT_ONCE, async (index) => {
      const answer = await call(this.host.peer(unit, index), index);
      if (isFailure(answer)) throw new Error(`shard ${index}: ${answer.error}: ${answer.detail}`);
    });
  }

  // ── during the split ─────────────────────────────────────────────────────

  /** This shard's part of the progress; null when no split runs. */
  progress(unit: UnitConfig): SplitProgress | null {
    if (unit.layout.splitTo === null) return null;
    const row = this.row();
    return { from: unit.layout.shards, to: unit.layout.splitTo, moved: row?.moved ?? 0, total: row?.total ?? 0 };
  }

  /** The new shards this old shard moves its keys to while a split runs (none else). */
  family(): number[] {
    const unit = this.host.config.get();
    const to = unit?.layout.splitTo;
    if (!unit || !to || unit.shard >= unit.layout.shards) return [];
    const { shards } = unit.layout;
    return Array.from({ length: to / shards - 1 }, (_, index) => unit.shard + shards * (index + 1));
  }

  /** Shard `index` of this unit. */
  peer(index: number): Peer {
    return this.host.peer(this.host.config.get()!.name, index);
  }

  /**
   * The new shard of `key` when it has left this one: moved already, or (`fenced`: for a
   * module's write) on its way in the batch being sent. Undefined when it is here.
   */
  away(key: string, fenced = false): number | undefined {
    const unit = this.host.config.get();
    const to = unit?.layout.splitTo;
    if (!unit || !to || unit.shard >= unit.layout.shards) return undefined;
    const target = shardOf(key, to, unit.layout);
    if (target === unit.shard) return undefined;
    const row = this.row();
    if (!row) return undefined;
    if (row.done) return target;
    const edge = fenced && this.fence !== undefined ? this.fence : row.cursor;
    return edge !== null && compareKeys(key, edge) <= 0 ? target : undefined;
  }

  /**
   * Where a client's write of `key` is carried out: here, on the new shard it has moved to
   * (its index), or `elsewhere` when the key is not this shard's (a call routed by a layout
   * this shard has left: the caller routes it again). A new shard holds the keys that have
   * reached it: it is sent only those (by their old shard, or by a Worker that knows the
   * split has ended). Decided in the same synchronous step as the write: the cursor moves
   * only between requests (a batch moves inside `blockConcurrencyWhile`).
   */
  placeOf(key: string): number | "here" | "elsewhere" {
    const unit = this.host.config.get();
    if (!unit) return "here";
    const away = this.away(key);
    if (away !== undefined) return away;
    const { shard, layout } = unit;
    const owner = shard < layout.shards ? ownerOf(key, layout) : destinationOf(key, layout);
    return owner === shard ? "here" : "elsewhere";
  }

  /** The answer to a call for keys this shard does not hold (placeOf: `elsewhere`): route it again by this shard's layout. */
  moved(): Moved {
    return moved(this.host.config.get()!.layout);
  }

  /** The new shard receives a batch: its rows of those keys become the ones sent; the old shard's fills come along. */
  private async receive(unit: UnitConfig, to: number, batch: KeyRows, fills: FillPosition[]): Promise<{ ok: true } | Failure> {
    if (unit.layout.splitTo !== to) return failure("INVALID_REQUEST", `shard ${unit.shard} of '${unit.name}' is not splitting into ${to} shards`);
    this.host.sql.transaction(() => {
      const runs = replaceRange(this.host.sql, batch);
      this.host.fills.adopt(fills, runs);
      recountRuns(this.host.sql, runs.values());
    });
    await this.host.rearm();
    return { ok: true };
  }

  /** When the alarm has split work: at once while keys are left or a report is owed, later after a failure. */
  wake(): number | undefined {
    const starting = this.startWake();
    if (starting !== undefined) return starting;
    const unit = this.host.config.get();
    if (!unit || unit.layout.splitTo === null) return undefined;
    const row = this.row();
    const owed = row !== undefined && (row.done === 0 || row.reported === 0);
    return owed || this.allReported(unit) ? Math.max(Date.now(), this.retryAt) : undefined;
  }

  /** When shard 0 has a start to finish (a start cut short): at once, or after a failed try. */
  private startWake(): number | undefined {
    const unit = this.host.config.get();
    if (unit?.shard !== 0) return undefined;
    const row = this.row();
    return row && !row.laid ? Math.max(Date.now(), this.retryAt) : undefined;
  }

  /** The alarm's share of the split: move batches for a while, report when done, and on shard 0 end it once all have. */
  async step(): Promise<void> {
    if (Date.now() < this.retryAt) return;
    await this.settled();
    const deadline = Date.now() + this.stepMs;
    try {
      for (let first = true; ; first = false) {
        const unit = this.host.config.get();
        const row = this.row();
        if (!unit?.layout.splitTo || !row || row.done || (!first && Date.now() >= deadline)) break;
        const started = Date.now();
        // a failure inside blockConcurrencyWhile would reset the object: it is carried out and thrown here
        const moved = await this.host.blockConcurrencyWhile(() =>
          this.moveBatch(unit, row).then(
            (keys) => ({ keys }),
            (error: unknown) => ({ error }),
          ),
        );
        if ("error" in moved) throw moved.error;
        this.sizeNext(moved.keys, Date.now() - started);
        // requests waiting for the object get in between batches
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      await this.report();
      await this.endIfAllReported();
    } catch (error) {
      this.retryAt = Date.now() + RETRY_MS;
      const unit = this.host.config.get();
      log("warn", "split-step-failed", { unit: unit?.name ?? "", shard: unit?.shard ?? -1, error: String(error) });
    }
  }

  /**
   * Shard 0 notes that old shard `shard` has moved all its keys (said again until it is heard).
   * A report of a split that has ended is heard already; one of a split shard 0 has not
   * recorded yet is refused, so that its sender says it again rather than take it as heard.
   */
  private async noteReport(unit: UnitConfig, shard: number, to: number): Promise<{ ok: true } | Failure> {
    if (unit.layout.shards >= to) return { ok: true };
    if (unit.layout.splitTo !== to)
      return failure("INVALID_REQUEST", `shard 0 of '${unit.name}' has not recorded a split into ${to} shards yet; report again`);
    this.host.sql.exec("INSERT OR IGNORE INTO split_reports (shard) VALUES (?)", shard);
    await this.host.rearm();
    return { ok: true };
  }

  /** The split ends on this shard: `to` shards serve the unit, and the fills (and the runs they belong to) count what they have left here. */
  private async end(unit: UnitConfig, to: number): Promise<{ ok: true }> {
    if (unit.layout.splitTo !== to) return { ok: true };
    this.host.sql.transaction(() => {
      this.host.config.update({ layout: { ...unit.layout, shards: to, splitTo: null } });
      this.host.sql.exec("DELETE FROM split");
      this.host.sql.exec("DELETE FROM split_reports");
      this.host.fills.recount();
      recountRuns(this.host.sql);
    });
    await this.host.rearm();
    return { ok: true };
  }

  // ── internals ────────────────────────────────────────────────────────────

  /**
   * The next batch's keys: the last one's, scaled to take {@link MOVE_MS}. Inside Workers the
   * clock moves only across I/O (the sends), so a batch may seem to take no time: it then doubles.
   */
  private sizeNext(keys: number, ms: number): void {
    if (keys === 0) return;
    const fit = ms > 0 ? Math.round((keys * MOVE_MS) / ms) : keys * 2;
    this.batchKeys = Math.max(MIN_KEYS, Math.min(MAX_KEYS, fit, keys * 2));
  }

  /**
   * One batch: the next keys after the cursor, the rows of those of other shards sent there,
   * then deleted here with the cursor moved past the batch. Rows that changed here while they
   * travelled (a running batch completing its items; seen by any write at all meanwhile) are
   * sent again.
   */
  private async moveBatch(unit: UnitConfig, row: SplitRow): Promise<number> {
    const { sql } = this.host;
    const to = row.split_to;
    const listed = nextKeys(sql, row.cursor, this.batchKeys);
    const targets = new Map<string, number>();
    let bytes = 0;
    for (const { key, bytes: size } of listed) {
      if (targets.size > 0 && bytes + size > MOVE_BYTES) break;
      targets.set(key, shardOf(key, to, unit.layout));
      bytes += size;
    }
    if (targets.size === 0) {
      // every run held here, with the fills as they stand, so that no new shard reaches a key this one has reached (split-runs.ts)
      const fills = this.host.fills.positions();
      await this.onPeers(unit.name, this.family(), (peer) => peer.splitting(ADMIN_CALL, { op: "receive", to, batch: closingRows(sql), fills }));
      sql.exec("UPDATE split SET done = 1");
      return 0;
    }
    const keys = [...targets.keys()];
    const range: KeyRange = { after: row.cursor, last: keys[keys.length - 1]! };
    const targetOf = (key: string) => {
      const target = targets.get(key) ?? shardOf(key, to, unit.layout);
      return target === unit.shard ? undefined : target;
    };
    const fills = this.host.fills.positions();
    this.fence = range.last;
    try {
      let sent = readRange(sql, range, targetOf);
      let sending = sent;
      for (let attempt = 0; ; attempt++) {
        const writes = sql.writes;
        await forEachConcurrently([...sending], PEERS_AT_ONCE, async ([target, batch]) => {
          const answer = await this.host.peer(unit.name, target).splitting(ADMIN_CALL, { op: "receive", to, batch, fills });
          if (isFailure(answer)) throw new Error(`shard ${target}: ${answer.error}: ${answer.detail}`);
        });
        if (sql.writes === writes) break;
        // something was written here while the batch travelled: what changed of it is sent again
        const now = readRange(sql, range, targetOf);
        sending = new Map(
          [...new Set([...sent.keys(), ...now.keys()])]
            .map((target): [number, KeyRows] => [target, now.get(target) ?? { range, tables: {}, runs: [] }])
            .filter(([target, batch]) => JSON.stringify(batch) !== JSON.stringify(sent.get(target))),
        );
        sent = now;
        if (sending.size === 0) break;
        if (attempt >= RESENDS) throw new Error("the batch's rows kept changing while they were sent; it is tried again");
      }
      // the keys sent, not the whole range: a key of this shard's written into it meanwhile (by a running batch) stays
      const leaving = [...new Set([...sent.values()].flatMap(keysOf))];
      sql.transaction(() => {
        deleteRange(sql, range, leaving);
        sql.exec("UPDATE split SET cursor = ?, moved = moved + ?", range.last, keys.length);
      });
      return keys.length;
    } finally {
      this.fence = undefined;
    }
  }

  /** An old shard that has moved everything tells shard 0, durably: until heard, every alarm tells it again. */
  private async report(): Promise<void> {
    const unit = this.host.config.get();
    const row = this.row();
    if (!unit || !row?.done || row.reported) return;
    const answer =
      unit.shard === 0
        ? await this.noteReport(unit, 0, row.split_to)
        : await this.host.peer(unit.name, 0).splitting(ADMIN_CALL, { op: "report", shard: unit.shard, to: row.split_to });
    if (isFailure(answer)) throw new Error(`shard 0: ${answer.error}: ${answer.detail}`);
    this.host.sql.exec("UPDATE split SET reported = 1");
  }

  /** Shard 0, once every old shard has reported: the split ends on every other shard, then here. */
  private async endIfAllReported(): Promise<void> {
    const unit = this.host.config.get();
    const to = unit?.layout.splitTo;
    if (!unit || !to || !this.allReported(unit)) return;
    const others = Array.from({ length: to - 1 }, (_, index) => index + 1);
    await this.onPeers(unit.name, others, (peer) => peer.splitting(ADMIN_CALL, { op: "end", to }));
    await this.end(unit, to);
  }

  private allReported(unit: UnitConfig): boolean {
    if (unit.shard !== 0) return false;
    return (this.host.sql.first<{ n: number }>("SELECT count(*) AS n FROM split_reports")?.n ?? 0) >= unit.layout.shards;
  }

  private row(): SplitRow | undefined {
    return this.host.sql.first<SplitRow>("SELECT split_to, cursor, moved, total, done, reported, laid FROM split WHERE id = 1");
  }
}
