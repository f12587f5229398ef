/**
 * The StorageUnit Durable Object: one per shard of a storage unit (a one-shard unit is one
 * object). This class holds the RPC methods the routes call for a caller that may be a user
 * (writes, reads, reprocessing); each answers data or a {@link Failure}, never HTTP, and
 * opens with its guard (guard.ts), which names who may call it. The admin's and the shards'
 * methods are in unit-admin.ts; the parts and their wiring, the alarm, in unit-core.ts.
 */
import { failure, isFailure, type Failure } from "../errors";
import type { BatchLine } from "../schemas";
import type { AdminCaller, Caller } from "./grants";
import type { UnitMetrics } from "./metrics";
import type { FailedItem } from "./queue";
import type { HistoryPoint } from "./history";
import type { RunFilter, RunRequest } from "./run-control";
import type { RunPart } from "./runs";
import type { AddPolicy, DeletePolicy, Json, StoredRecord } from "./records";
import type { BatchLineResult, UnitStatus } from "./answers";
import { mergeKeys, sum } from "../routing/key-order";
import { unconfiguredScope } from "./pipeline-scope";
import { acrossSplit, byPlace, recordsInOrder, unrouted } from "./split-forward";
import { isMoved, moved } from "../routing/layout";

import { UnitAdmin } from "./unit-admin";

/** A batch line whose key changed shards while the line travelled: rare (a split step at that moment). */
const ROUTED_AGAIN = "the unit's shards changed while the line was sent; send it again";

function lineErrors(lines: Array<{ line: number; entry: BatchLine }>, refusal: Failure): BatchLineResult[] {
  return lines.map(({ line, entry }) => ({ line, key: entry.key, error: refusal.error, detail: refusal.detail }));
}

export class StorageUnit extends UnitAdmin {
  // ── transactions ─────────────────────────────────────────────────────────

  async add(
    caller: Caller,
    scope: string,
    input: { key: string; content: Json; policy: AddPolicy; version?: number },
  ): Promise<{ ok: true } | Failure> {
    return this.write(
      caller,
      input.key,
      () => this.records.add(input.key, scope, input.content, input.policy, input.version ?? Date.now()),
      (peer, forwarded) => peer.add(forwarded, scope, input),
    );
  }

  async remove(caller: Caller, scope: string, input: { key: string; policy: DeletePolicy; version?: number }): Promise<{ ok: true } | Failure> {
    return this.write(
      caller,
      input.key,
      () => this.records.delete(input.key, scope, input.policy, input.version ?? Date.now()),
      (peer, forwarded) => peer.remove(forwarded, scope, input),
    );
  }

  /**
   * Applies lines of a batch, each on its own; each line carries its number in the caller's
   * body, for its error. During a split, the lines of keys that have moved are applied on
   * their new shards (as {@link add} does for one key).
   */
  async batch(caller: Caller, lines: Array<{ line: number; entry: BatchLine }>): Promise<{ applied: number; errors: BatchLineResult[] } | Failure> {
    return this.guard.withUnit(caller, "write", async (unit) => {
      const { here, away, elsewhere } = byPlace(this.split, lines, ({ entry }) => entry.key);
      if (elsewhere.length > 0 && elsewhere.length === lines.length) return moved(unit.layout);
      // applied in the step that placed them: a move step cannot fall between
      const result = this.changes.applyLines(unit, here);
      const forwarded = await Promise.all(
        [...away].map(async ([target, group]) => ({
          group,
          answer: await this.split
            .peer(target)
            .batch(unrouted(caller), group)
            .catch((error: unknown) =>
              failure("OVERLOADED", `shard ${target} of '${unit.name}' did not answer (${String(error)}); send these lines again`),
            ),
        })),
      );
      let { applied } = result;
      const errors = [...result.errors, ...lineErrors(elsewhere, failure("OVERLOADED", ROUTED_AGAIN))];
      for (const { group, answer } of forwarded) {
        if (!isFailure(answer)) {
          applied += answer.applied;
          errors.push(...answer.errors);
        } else errors.push(...lineErrors(group, isMoved(answer) ? failure("OVERLOADED", ROUTED_AGAIN) : answer));
      }
      await this.afterEnqueue();
      return { applied, errors: errors.sort((a, b) => a.line - b.line) };
    });
  }

  // ── access ───────────────────────────────────────────────────────────────

  async fetchRecord(caller: Caller, key: string, scope?: string): Promise<StoredRecord | Failure> {
    return this.guard.withUnit(caller, "read", () => {
      const away = this.split.away(key);
      if (away !== undefined) return this.split.peer(away).fetchRecord(caller, key, scope);
      return this.records.get(key, scope) ?? failure("KEY_NOT_FOUND", scope ? `record '${key}' has no scope '${scope}'` : `no record '${key}'`);
    });
  }

  /** `maxBytes`: this shard's part of the answer's room, when the answer gathers several shards. */
  async fetchMany(
    caller: Caller,
    keys: string[],
    scope?: string,
    maxBytes?: number,
  ): Promise<{ records: StoredRecord[]; remainingKeys?: string[] } | Failure> {
    return this.guard.withUnit(caller, "read", async () => {
      // up to a list's room read at once: it waits its turn among the process's reads before, and counts after
      await this.records.turn();
      const parts = await acrossSplit(
        this.split,
        keys,
        (here) => this.records.getMany(here, scope, maxBytes),
        (peer, gone) => peer.fetchMany(caller, gone, scope, maxBytes),
      );
      return isFailure(parts) ? parts : recordsInOrder(keys, parts, maxBytes);
    });
  }

  /**
   * The first `limit` keys from `startId` (inclusive) in byte order: a page over several
   * shards is chosen on keys first. While a split runs, an old shard answers for its new
   * shards too, asking them after reading its own keys: a key in flight is then in one of
   * the two lists (it reaches its new shard before it leaves this one), never in neither.
   */
  async pageKeys(caller: Caller, startId: string | undefined, limit: number, scope?: string): Promise<string[] | Failure> {
    return this.guard.withUnit(caller, "read", async () => {
      const here = this.records.pageKeys(startId, limit, scope);
      const family = this.split.family();
      if (family.length === 0) return here;
      const theirs = await Promise.all(family.map((index) => this.split.peer(index).pageKeys(caller, startId, limit, scope)));
      const refused = theirs.find(isFailure);
      return refused ?? mergeKeys([here, ...(theirs as string[][])], limit);
    });
  }

  async fetchPage(
    caller: Caller,
    startId: string | undefined,
    size: number,
    scope?: string,
  ): Promise<{ records: StoredRecord[]; nextStartId?: string } | Failure> {
    return this.guard.withUnit(caller, "read", async () => {
      const page = await this.records.page(startId, size, scope);
      // the page waits its turns between its reads: a split that began meanwhile may have moved
      // keys off this shard, so the page stands only if the layout is still the one it was
      // routed by (else MOVED: the Worker asks again by the split's layout, which reads the new shards too)
      return this.guard.withUnit(caller, "read", () => page);
    });
  }

  // ── reprocessing ─────────────────────────────────────────────────────────

  async reprocessKeys(caller: Caller, scope: string, keys: string[]): Promise<{ queued: number; missing: string[] } | Failure> {
    return this.guard.withQueue(caller, "write", async (unit) => {
      const refused = unconfiguredScope(unit, scope);
      if (refused) return refused;
      const parts = await acrossSplit(
        this.split,
        [...new Set(keys)],
        (here) => {
          const existing = this.records.existing(scope, here);
          const found = here.filter((key) => existing.has(key));
          this.queue.enqueue(scope, found);
          return { queued: found.length, missing: here.filter((key) => !existing.has(key)) };
        },
        (peer, gone) => peer.reprocessKeys(caller, scope, gone),
      );
      if (isFailure(parts)) return parts;
      await this.afterEnqueue();
      return { queued: sum(parts.map((part) => part.queued)), missing: parts.flatMap((part) => part.missing) };
    });
  }

  /** Starts this shard's share of the run `run.runId` (run-control.ts). */
  async reprocessAll(caller: Caller, scope: string, filter: RunFilter, run: RunRequest): Promise<{ queued: number } | Failure> {
    return this.guard.withQueue(caller, "write", async (unit) => {
      const refused = unconfiguredScope(unit, scope);
      if (refused) return refused;
      const started = this.runs.start(scope, filter, run);
      await this.afterEnqueue();
      return started;
    });
  }

  // this shard's share of runs: the routes combine shards (runs.ts)
  async runList(caller: Caller, limit: number): Promise<RunPart[] | Failure> {
    return this.guard.withUnit(caller, "read", () => this.runs.list(limit));
  }

  async runPart(caller: Caller, runId: string): Promise<RunPart | Failure> {
    return this.guard.withUnit(caller, "read", () => this.runs.part(runId));
  }

  async cancelRun(caller: Caller, runId: string): Promise<{ dropped: number } | Failure> {
    return this.guard.withUnit(caller, "write", async () => this.runs.cancel(runId));
  }

  async metricsOf(caller: AdminCaller): Promise<UnitMetrics | Failure> {
    return this.guard.withExisting(caller, (unit) => ({
      records: this.records.count(),
      processedTotal: unit.processed,
      ...this.queue.counts(),
      ...this.metrics.read(),
    }));
  }

  async reset(caller: Caller): Promise<{ unassigned: number } | Failure> {
    return this.guard.withQueue(caller, "write", async () => {
      const unassigned = this.queue.reset();
      await this.afterEnqueue();
      return { unassigned };
    });
  }

  async status(caller: Caller): Promise<UnitStatus | Failure> {
    // every figure is read after the last await, so they come from one moment and add up
    const alarm = await this.timer.stored();
    return this.guard.withUnit(caller, "read", (unit) => ({
      enabled: unit.reprocessingQueue,
      paused: unit.paused,
      filling: this.fills.active(),
      fillRemaining: this.fills.remaining(),
      ...this.queue.counts(),
      itemsPerSecond: this.runs.unitRate(),
      processed: unit.processed,
      // while the job runs, its next run is now
      nextRunAt: this.job.busy ? new Date().toISOString() : alarm === null ? null : new Date(alarm).toISOString(),
      lastError: unit.lastError,
      splitting: this.split.progress(unit),
    }));
  }

  /** The queue per minute over the last `minutes` up to the minute of `now` (given by the caller, so every shard answers the same minutes). */
  async history(caller: Caller, minutes: number, now: number): Promise<HistoryPoint[] | Failure> {
    return this.guard.withUnit(caller, "read", () => this.queue.history(minutes, now));
  }

  async setPaused(caller: Caller, paused: boolean): Promise<{ ok: true } | Failure> {
    await this.split.settled();
    return this.guard.withUnit(caller, "write", async () => {
      this.config.update({ paused });
      await this.job.rearm();
      return { ok: true };
    });
  }

  async failedItems(
    caller: Caller,
    limit: number,
    cursor?: { scope: string; key: string },
  ): Promise<{ items: FailedItem[]; nextCursor?: { scope: string; key: string } } | Failure> {
    return this.guard.withUnit(caller, "read", () => this.queue.failed(limit, cursor));
  }

  async retryFailed(caller: Caller, keys?: string[]): Promise<{ requeued: number } | Failure> {
    return this.guard.withUnit(caller, "write", async () => {
      const parts =
        keys === undefined
          ? [{ requeued: this.queue.retryFailed() }]
          : await acrossSplit(
              this.split,
              keys,
              (here) => ({ requeued: this.queue.retryFailed(here) }),
              (peer, gone) => peer.retryFailed(caller, gone),
            );
      if (isFailure(parts)) return parts;
      await this.afterEnqueue();
      return { requeued: sum(parts.map((part) => part.requeued)) };
    });
  }

  async purgeFailed(caller: Caller): Promise<{ purged: number } | Failure> {
    return this.guard.withUnit(caller, "write", () => ({ purged: this.queue.purgeFailed() }));
  }

  async purge(caller: Caller): Promise<{ purged: number } | Failure> {
    return this.guard.withUnit(caller, "write", async () => {
      const purged = this.sql.transaction(() => {
        this.fills.clear();
        this.references.clearOutbox();
        return this.queue.purgePending();
      });
      await this.job.rearm();
      return { purged };
    });
  }

  /** The cron trigger's visit (see cron-tick.ts). Returns whether the unit exists. */
  async tick(now = Date.now()): Promise<{ exists: boolean }> {
    return this.cron.run(now);
  }
}
