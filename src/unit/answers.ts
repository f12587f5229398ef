/**
 * The shapes of the unit's answers that the routes pass on as they are: a batch line's
 * error and the reprocessing status (API.md, "Transaction API" and "Reprocess API").
 */

import type { UnitConfig } from "./config";
import type { QueueCounts } from "./queue";
import type { SplitProgress } from "./split";

/** One shard's configuration and figures (admin's getStorageUnit gathers them). */
export type ShardInfo = Omit<UnitConfig, "modules" | "schedules"> & {
  records: number;
  queue: QueueCounts;
  bytes: number;
  splitting: SplitProgress | null;
};

export interface BatchLineResult {
  line: number;
  key?: string;
  error: string;
  detail: string;
}

export interface UnitStatus {
  enabled: boolean;
  paused: boolean;
  filling: boolean;
  /** keys a running `reprocess/all` has still to queue (0 when not filling) */
  fillRemaining: number;
  pending: number;
  assigned: number;
  failed: number;
  processed: number;
  /** items completed or failed per second over the last minute (rates.ts) */
  itemsPerSecond: number;
  nextRunAt: string | null;
  lastError: string | null;
  /** a split's progress (this shard's part of it, until merge.ts sums the shards'); null when none runs */
  splitting: SplitProgress | null;
}
