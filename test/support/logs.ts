/**
 * Captures what restage logs (src/log.ts) during a test, so a test that provokes an error
 * on purpose asserts on its log line instead of printing it. The unit's Durable Objects
 * run in the tests' isolate, so their lines are caught too.
 *
 * Outside a capture, the job's routine lines (one per slice, run and failing batch: every
 * test that drains a queue makes them) are dropped, so the test output stays readable; any
 * other line still reaches the console. quiet-logs.ts installs that for every test file.
 */
import { afterEach } from "vitest";
import { consoleSink, setLogSink, type LogEntry, type LogEvent } from "../../src/log";

const ROUTINE: ReadonlySet<LogEvent> = new Set(["job-slice", "batch-failed", "batch-slow", "run-started", "run-ended"]);

/** Drops the job's routine lines, passing every other line to the console. */
export function quietLogs(): void {
  setLogSink((entry) => {
    if (!ROUTINE.has(entry.event)) consoleSink(entry);
  });
}

/**
 * Collects every log entry until the current test ends.
 * @example const logs = captureLogs(); ...; expect(logs.of("unhandled")[0]).toMatchObject({ path: "/x" })
 */
export function captureLogs(): { entries: LogEntry[]; of(event: LogEvent): LogEntry[] } {
  const entries: LogEntry[] = [];
  setLogSink((entry) => void entries.push(entry));
  return { entries, of: (event) => entries.filter((entry) => entry.event === event) };
}

afterEach(() => quietLogs());
