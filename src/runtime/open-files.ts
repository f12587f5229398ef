/**
 * The self-hosted server's open files: how many a live object holds, the process's limit,
 * the cap on live objects drawn from it, and how to tell an open that failed for want of
 * files from any other error. An object keeps its SQLite file open while it is in memory,
 * with the write-ahead log and its index beside it; connections take files too, so the
 * objects get a share of the limit, not all of it.
 */
import { readFileSync } from "node:fs";

/** Files one live object holds: its database, the write-ahead log (`-wal`) and its index (`-shm`). */
export const FILES_PER_OBJECT = 3;
/** The share of the file limit the objects' files may take; connections, the host database and the runtime take the rest. */
const OBJECTS_SHARE = 1 / 2;
/** Live objects where the limit cannot be read (not Linux, or Deno without read access to /proc). */
const WITHOUT_LIMIT = 256;
/** Bounds of the cap drawn from the limit: room for a fan-out, and memory for the page caches. */
const FEWEST = 16;
const MOST = 1024;

/**
 * The process's limit of open files (the soft `RLIMIT_NOFILE`, which Node raises to the hard
 * one at start), where the platform tells it: Linux's /proc/self/limits. Undefined elsewhere.
 */
export function openFileLimit(): number | undefined {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    if (!line) return undefined;
    return line[1] === "unlimited" ? Number.POSITIVE_INFINITY : Number(line[1]);
  } catch {
    return undefined;
  }
}

/**
 * How many objects may be live at once when RESTAGE_MAX_LIVE_OBJECTS is not set: half the
 * file limit over {@link FILES_PER_OBJECT}, between 16 and 1,024 (256 when the limit is unknown).
 * @example defaultMaxLiveObjects(600) // 100
 */
export function defaultMaxLiveObjects(limit: number | undefined): number {
  if (limit === undefined) return WITHOUT_LIMIT;
  return Math.min(MOST, Math.max(FEWEST, Math.floor((limit * OBJECTS_SHARE) / FILES_PER_OBJECT)));
}

/**
 * What ran out when `error` is a file that could not be opened for want of file handles
 * (EMFILE, ENFILE; SQLite reports those as SQLITE_CANTOPEN, "unable to open database file"),
 * else undefined. Never a path: the text reaches clients.
 */
export function openFailure(error: unknown): string | undefined {
  const text = error instanceof Error ? `${(error as { code?: unknown }).code ?? ""} ${error.message}` : String(error);
  if (/EMFILE|too many open files/i.test(text)) return "too many open files (EMFILE)";
  if (/ENFILE|file table overflow/i.test(text)) return "the system's table of open files is full (ENFILE)";
  if (/unable to open database file|SQLITE_CANTOPEN/i.test(text)) return "SQLite could not open a database file (SQLITE_CANTOPEN)";
  return undefined;
}
