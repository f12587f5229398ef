/**
 * How much a storage unit's shard may store (API.md, "Sharded storage units": 507
 * `STORAGE_FULL`). Two limits, one answer:
 * - ours, `RESTAGE_SHARD_MAX_BYTES`: checked against the database size before each write
 *   of content, so the self-hosted servers can be capped and the limit can be tested;
 * - the platform's (10 GB a Durable Object on Workers): SQLite's full-storage error thrown
 *   inside a write. The write's transaction rolls back, and the error becomes the same answer.
 *
 * Deletes are never refused: freeing space must stay possible on a full shard (a delete
 * only drops content, or adds a small tombstone).
 */
import { ApiError, failure, type Failure } from "../errors";

/** The variable that caps a shard's bytes; unset, only the platform's limit applies. */
export const SHARD_MAX_BYTES_VAR = "RESTAGE_SHARD_MAX_BYTES";

/** The cap set in `vars`, or undefined when unset; throws with the fix when it is not a whole number of bytes. */
export function shardMaxBytes(vars: Record<string, unknown>): number | undefined {
  const value = vars[SHARD_MAX_BYTES_VAR];
  if (value === undefined || value === "") return undefined;
  const bytes = Number(value);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new Error(`${SHARD_MAX_BYTES_VAR} must be a whole number of bytes greater than 0 (e.g. 1073741824 for 1 GiB), got '${String(value)}'`);
  }
  return bytes;
}

/** What a cap needs to know: the bytes the shard stores now (Durable Objects' `sql.databaseSize`). */
export interface SizedStorage {
  readonly databaseSize: number;
}

/** The check before a write; `undefined` cap: no check of ours. */
export class Capacity {
  constructor(
    private readonly storage: SizedStorage,
    private readonly maxBytes: number | undefined,
  ) {}

  /**
   * Why a write of at least `adding` bytes cannot be stored, or undefined when it fits. The
   * size is read inside the write's transaction, so earlier lines of a batch count.
   */
  refusal(adding: number): Failure | undefined {
    if (this.maxBytes === undefined) return undefined;
    const stored = this.storage.databaseSize;
    if (stored + adding <= this.maxBytes) return undefined;
    return failure(
      "STORAGE_FULL",
      `the storage unit's shard is full: it stores ${stored} bytes of the ${this.maxBytes} that ${SHARD_MAX_BYTES_VAR} allows, and this write needs at least ${adding} more; nothing of this write was applied. Delete records (deletes are always accepted) or raise ${SHARD_MAX_BYTES_VAR}`,
    );
  }
}

/** The detail of a write the platform refused for space (on Workers: 10 GB a Durable Object). */
const PLATFORM_FULL_DETAIL =
  "the storage unit's shard is full: the platform refused to store more in its Durable Object (at most 10 GB); nothing of this write was applied. Delete records (deletes are always accepted) to make room";

/**
 * SQLite's full-storage error (SQLITE_FULL, "database or disk is full"), as the unit
 * throws it or as it arrives across RPC (message text only), as the 507 it answers.
 */
export function storageFullError(error: unknown): ApiError | undefined {
  const message = error instanceof Error ? error.message : typeof error === "string" ? error : "";
  return /SQLITE_FULL|database or disk is full/i.test(message) ? new ApiError("STORAGE_FULL", PLATFORM_FULL_DETAIL) : undefined;
}
