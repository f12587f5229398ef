/**
 * How the answers of a unit's shards make the unit's one answer (API.md, "Sharded storage
 * units": counts are sums, lists keep the order a one-shard unit gives). Pure functions:
 * the protocol's router gathers the parts (protocol.ts).
 */
import type { ShardInfo, UnitStatus } from "../unit/answers";
import type { FailedItem } from "../unit/queue";
import type { HistoryPoint } from "../unit/history";
import type { SplitProgress } from "../unit/split";
import { compareBytes } from "../routing/layout";
import { sum } from "../routing/key-order";
import { round } from "../unit/runs";

/** The unit's status: its flags from shard 0, counts summed, the soonest next run, the first error found. */
export function combineStatus(parts: UnitStatus[]): UnitStatus {
  const [first] = parts as [UnitStatus, ...UnitStatus[]];
  const next = parts.map((part) => part.nextRunAt).filter((at): at is string => at !== null);
  return {
    ...first,
    filling: parts.some((part) => part.filling),
    fillRemaining: sum(parts.map((part) => part.fillRemaining)),
    pending: sum(parts.map((part) => part.pending)),
    assigned: sum(parts.map((part) => part.assigned)),
    failed: sum(parts.map((part) => part.failed)),
    processed: sum(parts.map((part) => part.processed)),
    itemsPerSecond: round(sum(parts.map((part) => part.itemsPerSecond))),
    nextRunAt: next.sort()[0] ?? null,
    lastError: parts.find((part) => part.lastError !== null)?.lastError ?? null,
    splitting: combineSplitting(parts.map((part) => part.splitting)),
  };
}

/** A split's progress over the unit: shard 0 says whether one runs (it records the split), the counts are every shard's summed. */
export function combineSplitting(parts: Array<SplitProgress | null>): SplitProgress | null {
  const [first] = parts;
  if (!first) return null;
  const known = parts.filter((part): part is SplitProgress => part !== null);
  return { ...first, moved: sum(known.map((part) => part.moved)), total: sum(known.map((part) => part.total)) };
}

export interface ShardStats {
  shard: number;
  records: number;
  bytes: number;
  pending: number;
  assigned: number;
  failed: number;
}

/** getStorageUnit of the unit: shard 0's configuration, counts summed, and each shard's own figures. */
export function combineInfo(parts: ShardInfo[]) {
  const [first] = parts as [ShardInfo, ...ShardInfo[]];
  const { shard: _shard, layout, bytes: _bytes, ...config } = first;
  const shardStats: ShardStats[] = parts.map((part) => ({ shard: part.shard, records: part.records, bytes: part.bytes, ...part.queue }));
  return {
    ...config,
    processed: sum(parts.map((part) => part.processed)),
    records: sum(parts.map((part) => part.records)),
    queue: {
      pending: sum(parts.map((part) => part.queue.pending)),
      assigned: sum(parts.map((part) => part.queue.assigned)),
      failed: sum(parts.map((part) => part.queue.failed)),
    },
    shards: layout.shards,
    shardStats,
    splitting: combineSplitting(parts.map((part) => part.splitting)),
  };
}

type FailedCursor = { scope: string; key: string };

/** One page of failed items over every shard, in (scope, key) order under one cursor. */
export function mergeFailed(
  pages: Array<{ items: FailedItem[]; nextCursor?: FailedCursor }>,
  limit: number,
): { items: FailedItem[]; nextCursor?: FailedCursor } {
  // an item seen twice (mid-split, on its old and new shard) is listed once
  const byId = new Map(pages.flatMap((page) => page.items).map((item) => [JSON.stringify([item.scope, item.key]), item]));
  const all = [...byId.values()].sort((a, b) => compareBytes(a.scope, b.scope) || compareBytes(a.key, b.key));
  const items = all.slice(0, limit);
  const last = items[items.length - 1];
  const more = all.length > limit || pages.some((page) => page.nextCursor !== undefined);
  return more && last ? { items, nextCursor: { scope: last.scope, key: last.key } } : { items };
}

/** The unit's history: each minute's figures summed over the shards (each answered the same minutes, asked with one `now`). */
export function sumHistory(parts: HistoryPoint[][]): HistoryPoint[] {
  const [first = []] = parts;
  return first.map((point, index) => ({
    at: point.at,
    processed: sum(parts.map((part) => part[index]?.processed ?? 0)),
    failed: sum(parts.map((part) => part[index]?.failed ?? 0)),
    pending: sum(parts.map((part) => part[index]?.pending ?? 0)),
  }));
}
