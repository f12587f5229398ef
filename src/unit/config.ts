/**
 * The unit's configuration row (table `unit`): its name, flags, reprocessing settings,
 * pipelines, schedules and the `processed` counter. No row means the unit does not exist.
 */
import { DEFAULT_REPROCESSING_SETTINGS, type ModulesConfig, type ReprocessingSettings, type Schedule } from "../schemas";
import { hasSchema } from "./migrations";
import type { Sql } from "./sql";
import type { ShardLayout } from "../routing/layout";

export interface UnitConfig {
  name: string;
  createdAt: number;
  contentProcessing: boolean;
  reprocessingQueue: boolean;
  paused: boolean;
  processed: number;
  lastError: string | null;
  settings: ReprocessingSettings;
  modules: ModulesConfig;
  schedules: Schedule[];
  /** this object's place in the unit: its index, and the unit's shards as this shard knows them */
  shard: number;
  layout: ShardLayout;
}

type UnitRow = {
  name: string;
  created_at: number;
  content_processing: number;
  reprocessing_queue: number;
  paused: number;
  processed: number;
  last_error: string | null;
  settings: string;
  modules: string;
  schedules: string;
  shard: number;
  shards: number;
  split_to: number | null;
  seed: string | null;
};

export class ConfigStore {
  private cached: UnitConfig | undefined | null = null;
  /** the latest creation time this instance has seen: a unit created again must get a later one (see Changes.moduleAccess) */
  private lastCreatedAt = 0;

  constructor(private readonly sql: Sql) {}

  /** The configuration, or undefined when the unit has not been created. */
  get(): UnitConfig | undefined {
    if (this.cached !== null) return this.cached;
    const row = hasSchema(this.sql) ? this.sql.first<UnitRow>("SELECT * FROM unit WHERE id = 1") : undefined;
    if (row) this.lastCreatedAt = Math.max(this.lastCreatedAt, row.created_at);
    this.cached = row && {
      name: row.name,
      createdAt: row.created_at,
      contentProcessing: row.content_processing === 1,
      reprocessingQueue: row.reprocessing_queue === 1,
      paused: row.paused === 1,
      processed: row.processed,
      lastError: row.last_error,
      settings: { ...DEFAULT_REPROCESSING_SETTINGS, ...JSON.parse(row.settings) },
      modules: JSON.parse(row.modules),
      schedules: JSON.parse(row.schedules),
      shard: row.shard,
      layout: row.seed === null ? { shards: row.shards, splitTo: row.split_to } : { shards: row.shards, splitTo: row.split_to, seed: row.seed },
    };
    return this.cached;
  }

  create(name: string, contentProcessing: boolean, reprocessingQueue: boolean, shard = 0, layout: ShardLayout = { shards: 1, splitTo: null }): void {
    // the clock may not have moved since a delete (it advances only across I/O)
    this.lastCreatedAt = Math.max(Date.now(), this.lastCreatedAt + 1);
    this.sql.exec(
      "INSERT INTO unit (id, name, created_at, content_processing, reprocessing_queue, shard, shards, split_to, seed) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)",
      name,
      this.lastCreatedAt,
      contentProcessing ? 1 : 0,
      reprocessingQueue ? 1 : 0,
      shard,
      layout.shards,
      layout.splitTo,
      layout.seed ?? null,
    );
    this.cached = null;
  }

  update(patch: Partial<Omit<UnitConfig, "name" | "createdAt" | "processed" | "shard">>): void {
    const columns: Record<string, unknown> = {};
    if (patch.contentProcessing !== undefined) columns.content_processing = patch.contentProcessing ? 1 : 0;
    if (patch.reprocessingQueue !== undefined) columns.reprocessing_queue = patch.reprocessingQueue ? 1 : 0;
    if (patch.paused !== undefined) columns.paused = patch.paused ? 1 : 0;
    if (patch.lastError !== undefined) columns.last_error = patch.lastError;
    if (patch.settings !== undefined) columns.settings = JSON.stringify(patch.settings);
    if (patch.modules !== undefined) columns.modules = JSON.stringify(patch.modules);
    if (patch.schedules !== undefined) columns.schedules = JSON.stringify(patch.schedules);
    if (patch.layout !== undefined) {
      columns.shards = patch.layout.shards;
      columns.split_to = patch.layout.splitTo;
    }
    const names = Object.keys(columns);
    if (names.length === 0) return;
    this.sql.exec(`UPDATE unit SET ${names.map((n) => `${n} = ?`).join(", ")} WHERE id = 1`, ...Object.values(columns));
    this.cached = null;
  }

  addProcessed(count: number): void {
    if (count === 0) return;
    this.sql.exec("UPDATE unit SET processed = processed + ? WHERE id = 1", count);
    if (this.cached) this.cached.processed += count;
  }

  /** Forget the cached row: after `deleteAll()`, or when another path wrote it. */
  invalidate(): void {
    this.cached = null;
  }
}
