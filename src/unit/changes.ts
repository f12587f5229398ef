/**
 * What a change to a record sets in motion, and what modules may do to their unit. With
 * content processing on, a changed scope queues its own pipeline and the items that
 * reference it (ForeignKeyJoin), whether or not that scope has a pipeline. A module's
 * write to another scope is such a change too, one hop further: chains are cut after
 * {@link MAX_SCOPE_HOPS}, and the writing item is never queued by its own write.
 */
import { contentTooLarge } from "../limits";
import { hasPipeline } from "../modules/pipeline";
import type { PipelineItem, UnitAccess } from "../modules/types";
import type { UnitConfig } from "./config";
import type { Queue } from "./queue";
import type { Json, RecordStore } from "./records";
import type { ReferenceStore } from "./references";
import type { Sql } from "./sql";

/** A chain of scope writes (raw → index → raw ...) is cut after this many hops. */
export const MAX_SCOPE_HOPS = 8;

export class Changes {
  constructor(
    private readonly sql: Sql,
    private readonly records: RecordStore,
    private readonly references: ReferenceStore,
    private readonly queue: Queue,
    private readonly config: () => UnitConfig | undefined,
  ) {}

  /** These scopes of a record changed: queue whatever must see it. `writer` is the item whose module wrote. */
  changed(unit: UnitConfig, key: string, scopes: string[], hops: number, writer?: PipelineItem): void {
    if (!unit.contentProcessing) return;
    const pipelines = Object.keys(unit.modules.modules).filter((scope) => hasPipeline(unit.modules, scope));
    for (const scope of scopes) {
      const isWriter = writer !== undefined && writer.scope === scope && writer.key === key;
      if (!isWriter && hasPipeline(unit.modules, scope)) this.queue.enqueue(scope, [key], hops);
      this.queue.enqueueReferrers(scope, key, pipelines, hops, writer);
    }
  }

  /**
   * The unit as the modules of one batch see it: read any record, write or delete a scope of
   * the item's own, note references. `createdAt` is the unit's creation time when the batch
   * was claimed: once that unit is deleted, even if one is created again under its name,
   * the batch reads nothing and changes nothing.
   */
  moduleAccess(createdAt: number): UnitAccess {
    const current = () => {
      const unit = this.config();
      return unit?.createdAt === createdAt ? unit : undefined;
    };
    return {
      read: (key, scope) => (current() ? this.records.content(key, scope) : undefined),
      write: (item: PipelineItem, scope: string, content: Json | null) => {
        const unit = current();
        if (!unit) return "the storage unit was deleted";
        if (item.hops >= MAX_SCOPE_HOPS) return `scope write chain cut after ${MAX_SCOPE_HOPS} hops (${item.scope} → ${scope}); check the pipelines for a cycle`;
        const json = content === null ? null : JSON.stringify(content);
        const tooLarge = json === null ? undefined : contentTooLarge(json);
        if (tooLarge) return `scope '${scope}': ${tooLarge}; drop fields before writing it`;
        return this.sql.transaction(() => {
          // versioned as a client's write at this moment: a newer version a client set (or its tombstone) wins
          const now = Date.now();
          const outcome = json === null ? this.records.delete(item.key, scope, "silent", now) : this.records.addJson(item.key, scope, json, "merge", now);
          if ("error" in outcome) return outcome.detail;
          this.changed(unit, item.key, outcome.changed, item.hops + 1, item);
          return undefined;
        });
      },
      references: (item, scope, keys, via) => {
        if (current()) this.references.set(item.scope, item.key, via, scope, keys);
      },
    };
  }
}
