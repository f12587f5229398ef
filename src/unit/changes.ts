/**
 * What a change to a record sets in motion, and what modules may do to their unit. With
 * content processing on, a changed scope queues its own pipeline at once, and notes the
 * change in the referrer outbox so the items that reference it (ForeignKeyJoin) are queued
 * too, whether or not that scope has a pipeline: in bounded steps (see references.ts). A
 * module's write to another scope is such a change too, one hop further: chains are cut after
 * {@link MAX_SCOPE_HOPS}, and the writing item is never queued by its own write.
 */
import { contentTooLarge } from "../limits";
import { hasPipeline } from "../modules/pipeline";
import { isSpread, type AcrossShards } from "./across-shards";
import type { PipelineItem, UnitAccess } from "../modules/types";
import type { YieldBudget } from "../yield-budget";
import type { StoredLine } from "../schemas";
import type { BatchLineResult } from "./answers";
import type { UnitConfig } from "./config";
import type { Queue } from "./queue";
import type { Json, RecordStore } from "./records";
import type { ReferenceStore } from "./references";
import type { Sql } from "./sql";

/** Why a module's change is refused on a shard its key has left: the item runs again on the new one (at least once). */
const MOVED_AWAY = "the record moved to another shard in a split; the item runs again there";

/** A chain of scope writes (raw → index → raw ...) is cut after this many hops. */
export const MAX_SCOPE_HOPS = 8;

export class Changes {
  constructor(
    private readonly sql: Sql,
    private readonly records: RecordStore,
    private readonly references: ReferenceStore,
    private readonly queue: Queue,
    private readonly config: () => UnitConfig | undefined,
    /** reads and references across the unit's shards; a unit of one shard never needs it */
    private readonly across?: AcrossShards,
    /** whether a key has left this shard in a split (or is on its way): a module may no longer change it here */
    private readonly moved: (key: string) => boolean = () => false,
  ) {}

  /** These scopes of a record changed: queue whatever must see it. `writer` is the item whose module wrote. */
  changed(unit: UnitConfig, key: string, scopes: string[], hops: number, writer?: PipelineItem): void {
    if (!unit.contentProcessing) return;
    for (const scope of scopes) {
      const isWriter = writer !== undefined && writer.scope === scope && writer.key === key;
      if (!isWriter && hasPipeline(unit.modules, scope)) this.queue.enqueue(scope, [key], hops);
      this.references.noteChange(scope, key, hops, writer);
    }
  }

  /** A client's batch lines, each applied on its own, in one transaction with what they set in motion; each line's error carries its number. */
  applyLines(unit: UnitConfig, lines: Array<{ line: number; entry: StoredLine }>): { applied: number; errors: BatchLineResult[] } {
    const errors: BatchLineResult[] = [];
    let applied = 0;
    this.sql.transaction(() => {
      for (const { line, entry } of lines) {
        const version = entry.version ?? Date.now();
        const outcome =
          entry.action === "add"
            ? this.records.addJson(entry.key, entry.scope, entry.contentJson, entry.policy, version)
            : this.records.delete(entry.key, entry.scope, entry.policy, version);
        if ("error" in outcome) errors.push({ line, key: entry.key, error: outcome.error, detail: outcome.detail });
        else {
          applied++;
          this.changed(unit, entry.key, outcome.changed, 0);
        }
      }
    });
    return { applied, errors };
  }

  /**
   * The unit as the modules of one batch see it: read any record, write or delete a scope of
   * the item's own, note references. `createdAt` is the unit's creation time when the batch
   * was claimed: once that unit is deleted, even if one is created again under its name,
   * the batch reads nothing and changes nothing. The bytes read and written count towards
   * `budget`, the job's measure of work between two yields.
   */
  moduleAccess(createdAt: number, budget: YieldBudget): UnitAccess {
    const current = () => {
      const unit = this.config();
      return unit?.createdAt === createdAt ? unit : undefined;
    };
    const access: UnitAccess = {
      readMany: async (keys, scope, options) => {
        const unit = current();
        if (unit && this.across && isSpread(unit)) {
          for (let wait = budget.ready(); wait; wait = budget.ready()) await wait;
          const read = await this.across.read(unit, keys, scope, options?.maxBytes ?? Number.MAX_SAFE_INTEGER);
          budget.count(read.bytes);
          if (!current()) return { contents: keys.map(() => undefined), bytes: 0 };
          return { contents: read.contents.map((json) => (json === undefined ? undefined : (JSON.parse(json) as Json))), bytes: read.bytes };
        }
        const contents: Array<Json | undefined> = [];
        let bytes = 0;
        const chunks = this.records.contentsJson(keys, scope, options?.maxBytes);
        for (;;) {
          // before each chunk, the first too (the module may have worked since its call began): a
          // join of a thousand records is ten pieces of work, not one block
          for (let wait = budget.ready(); wait; wait = budget.ready()) await wait;
          // a unit deleted meanwhile (even if created again under its name) holds nothing for a batch claimed before
          if (!current()) return { contents: keys.map(() => undefined), bytes: 0 };
          const next = chunks.next();
          if (next.done) break;
          // what a join reads counts towards the job's next yield, as its writes do
          budget.count(next.value.bytes);
          bytes += next.value.bytes;
          for (const json of next.value.contents) contents.push(json === undefined ? undefined : JSON.parse(json));
        }
        return { contents, bytes };
      },
      read: async (key, scope) => (await access.readMany([key], scope)).contents[0],
      write: (item: PipelineItem, scope: string, content: Json | null) => {
        const unit = current();
        if (!unit) return "the storage unit was deleted";
        if (this.moved(item.key)) return MOVED_AWAY;
        if (item.hops >= MAX_SCOPE_HOPS)
          return `scope write chain cut after ${MAX_SCOPE_HOPS} hops (${item.scope} → ${scope}); check the pipelines for a cycle`;
        const json = content === null ? null : JSON.stringify(content);
        const tooLarge = json === null ? undefined : contentTooLarge(json);
        if (tooLarge) return `scope '${scope}': ${tooLarge}; drop fields before writing it`;
        budget.count(json?.length ?? 0);
        return this.sql.transaction(() => {
          // versioned as a client's write at this moment: a newer version a client set (or its tombstone) wins
          const now = Date.now();
          const outcome =
            json === null ? this.records.delete(item.key, scope, "silent", now) : this.records.addJson(item.key, scope, json, "merge", now);
          if ("error" in outcome) return outcome.detail;
          this.changed(unit, item.key, outcome.changed, item.hops + 1, item);
          return undefined;
        });
      },
      // a refusal, not a throw: a throw from batchStart would fail every item of the batch for one that moved
      references: (item, scope, keys, via) => {
        if (this.moved(item.key)) return MOVED_AWAY;
        if (current()) this.references.set(item.scope, item.key, via, scope, keys);
        return undefined;
      },
      referencesMany: (scope, via, entries) => {
        const refusals = entries.map(({ item }) => (this.moved(item.key) ? MOVED_AWAY : undefined));
        const kept = entries.filter((_, i) => refusals[i] === undefined);
        if (current())
          this.references.setMany(
            via,
            scope,
            kept.map(({ item, keys }) => ({ scope: item.scope, key: item.key, refKeys: keys })),
          );
        return refusals;
      },
    };
    return access;
  }
}
