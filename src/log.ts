/**
 * The one logger: every event is one JSON line, `{"level","event",...fields}`, on stdout
 * for `info` and stderr otherwise (Workers Logs and the self-hosted servers' journals keep
 * both). The events and their fields are named below, so a log query can rely on them.
 * Tests replace the sink to assert on an expected error instead of printing it.
 */

export type LogLevel = "info" | "warn" | "error";

/** Every event restage logs, with its fields. */
export interface LogEvents {
  /** an error no route turned into an answer (500 INTERNAL_ERROR) */
  unhandled: { method: string; path: string; error: string; stack?: string };
  /** a call into a unit failed while a `transaction/batch` was applied */
  "batch-call-failed": { unit: string; error: string; stack?: string };
  /** a self-hosted object's alarm threw; it is retried */
  "alarm-failed": { namespace: string; name: string | null; retryCount: number; error: string };
  /** work handed to `waitUntil` failed */
  "wait-until-failed": { error: string };
  /** a self-hosted server could not open a file for want of file handles: the event was refused 503 OVERLOADED */
  "open-files-exhausted": { error: string; live: number; maxLive: number; fileLimit: number | null };
  /** files ran out with fewer objects open than the cap allowed: the cap on live objects is lowered to fit the limit */
  "live-objects-cap-lowered": { from: number; to: number; fileLimit: number | null };
  /** a self-hosted object's file could not be closed (it is dropped all the same) */
  "object-close-failed": { error: string };
  /** the self-hosted HTTP server reported an error after it started listening (EMFILE on accept) */
  "server-error": { error: string };
  /** the self-hosted cron tick failed */
  "cron-failed": { error: string };
  /** `GET /metrics` could not read one unit, which the scrape leaves out */
  "metrics-unit-failed": { unit: string; error: string };
  /** the cron trigger could not visit one unit */
  "cron-visit-failed": { unit: string; error: string };
  /** a unit could not tell the registry whether it has work */
  "registry-set-active-failed": { unit: string; error: string };
  /** an HttpPublisher endpoint refused a request or items: its answer, kept out of the unit's errors */
  "publisher-rejected": { url: string; status: number; stored: string; answer: string };
  /** a step of a split (a batch sent to a new shard, a report to shard 0, the end) failed; the shard's alarm tries again */
  "split-step-failed": { unit: string; shard: number; error: string };
  /** shard 0 could not finish starting a split (a new shard did not answer); its alarm tries again */
  "split-start-failed": { unit: string; error: string };
  /** self-hosted server lifecycle */
  "start-failed": { error: string };
  listening: { runtime: string; url: string; dataDir: string; maxLiveObjects: number; fileLimit: number | null };
  "no-admin-token": { detail: string };
  "unhandled-rejection": { error: string };
  stopped: { signal: string };
  /** one slice of a unit's job (one alarm): the batches it ran, their items and those that failed */
  "job-slice": { unit: string; shard: number; batches: number; items: number; failed: number; ms: number };
  /** a batch some of whose items failed (or that failed as a whole: `error` is then the batch's) */
  "batch-failed": { unit: string; shard: number; scope: string; items: number; failed: number; ms: number; error: string };
  /** a batch that took longer than SLOW_BATCH_MS (job.ts) */
  "batch-slow": { unit: string; shard: number; scope: string; items: number; ms: number };
  /** a `reprocess/all` run started on a shard */
  "run-started": {
    unit: string;
    shard: number;
    runId: string;
    scope: string;
    prefix: string | null;
    since: string | null;
    trigger: "api" | "schedule";
    total: number;
  };
  /** a run ended on a shard: done, cancelled or replaced */
  "run-ended": { unit: string; shard: number; runId: string; state: string; total: number; processed: number; failed: number; ms: number };
}

export type LogEvent = keyof LogEvents;
export type LogEntry = { level: LogLevel; event: LogEvent } & Record<string, unknown>;
export type LogSink = (entry: LogEntry) => void;

/** The console: `info` to stdout, the rest to stderr. */
export const consoleSink: LogSink = (entry) => {
  const line = JSON.stringify(entry);
  if (entry.level === "info") console.log(line);
  else console.error(line);
};

let sink: LogSink = consoleSink;

/**
 * Logs one event as a JSON line.
 * @example log("error", "cron-visit-failed", { unit: "docs", error: String(error) })
 */
export function log<E extends LogEvent>(level: LogLevel, event: E, fields: LogEvents[E]): void {
  sink({ level, event, ...fields });
}

/** Sends every entry to `next` instead of the console (tests); `undefined` restores the console. */
export function setLogSink(next: LogSink | undefined): void {
  sink = next ?? consoleSink;
}
