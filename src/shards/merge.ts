/**
 * How the answers of a unit's shards make the unit's one answer (API.md, "Sharded storage
 * units": counts are sums, lists keep the order a one-shard unit gives). Pure functions:
 * sharded-unit.ts gathers the parts.
 */
import type { ShardInfo, UnitStatus } from "../unit/answers";
import type { FailedItem } from "../unit/queue";
import type { HistoryPoint } from "../unit/history";
import type { StoredRecord } from "../unit/records";
import type { SplitProgress } from "../unit/split";
import { compareBytes } from "./layout";
import { round } from "../unit/runs";

export function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

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

/**
 * The records of a list answer in the order of `keys`, each shard's answer cut where its
 * byte budget stopped it: the answer ends before the first key a shard did not reach, and
 * before it passes `budget` bytes overall (one record at least). `stoppedAt` is the index in
 * `keys` where it ended, if it did.
 */
export function inOrder(
  keys: string[],
  answers: Array<{ records: StoredRecord[]; remainingKeys?: string[] }>,
  budget: number,
): { records: StoredRecord[]; stoppedAt?: number } {
  const found = new Map<string, StoredRecord>();
  const unreached = new Set<string>();
  for (const answer of answers) {
    for (const record of answer.records) found.set(record.key, record);
    for (const key of answer.remainingKeys ?? []) unreached.add(key);
  }
  const records: StoredRecord[] = [];
  let bytes = 0;
  for (const [index, key] of keys.entries()) {
    if (unreached.has(key)) return { records, stoppedAt: index };
    const record = found.get(key);
    if (!record) continue;
    bytes += JSON.stringify(record).length;
    if (bytes > budget && records.length > 0) return { records, stoppedAt: index };
    records.push(record);
  }
  return { records };
}

/** The first `limit` keys of several shards' sorted key lists, in byte order, each once. */
export function mergeKeys(lists: string[][], limit: number): string[] {
  return [...new Set(lists.flat())].sort(compareBytes).slice(0, limit);
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
