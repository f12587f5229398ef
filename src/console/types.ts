/** The answers the console reads, as API.md gives them (the browser has no access to the server's zod schemas). */

export type Permission = "r" | "w" | "rw";

export interface Whoami {
  admin: boolean;
  user: string | null;
  grants: Record<string, Permission>;
}

export interface Splitting {
  from: number;
  to: number;
  moved: number;
  total: number;
}

export interface Status {
  enabled: boolean;
  paused: boolean;
  filling: boolean;
  fillRemaining: number;
  pending: number;
  assigned: number;
  failed: number;
  /** every item completed since the unit was created */
  processed: number;
  /** the job's next wake-up (not a schedule's) */
  nextRunAt: string | null;
  lastError: string | null;
  itemsPerSecond: number;
  etaSeconds: number | null;
  splitting: Splitting | null;
}

export interface Settings {
  batchSize: number;
  workers: number;
  concurrency: number;
  leaseMs: number;
  maxAttempts: number;
  backoffMs: number;
  maxBackoffMs: number;
  maxItemsPerSecond: number | null;
}

export interface ShardStats {
  shard: number;
  records: number;
  bytes: number;
  pending: number;
  assigned: number;
  failed: number;
}

/** getStorageUnit (admin only) */
export interface UnitInfo {
  name: string;
  createdAt: string;
  contentProcessing: boolean;
  reprocessingQueue: boolean;
  paused: boolean;
  processed: number;
  records: number;
  settings: Settings;
  shards: number;
  shardStats: ShardStats[];
  splitting: Splitting | null;
}

export interface HistoryPoint {
  at: string;
  processed: number;
  failed: number;
  pending: number;
}

/** Runs as the API answers them: the server's own types (src/unit/runs.ts, no imports of its own). */
export type { Run, RunState } from "../unit/runs";

export interface FailedItem {
  scope: string;
  key: string;
  attempts: number;
  lastError: string | null;
  failedAt: string | null;
}

export interface FailedPage {
  items: FailedItem[];
  nextCursor: string | null;
}

/** A record as /access/fetch answers it: each scope's content, and per scope its version and time. */
export interface StoredRecord {
  key: string;
  content: Record<string, unknown>;
  meta: Record<string, { version: number; updatedAt: string }>;
}

export interface ModuleRef {
  module: string;
  settings?: Record<string, unknown>;
}

export interface ModulesConfig {
  modules: Record<string, ModuleRef[]>;
  settings?: Record<string, unknown>;
}

export interface Schedule {
  scope: string;
  cron: string;
  nextRunAt?: string;
}
