/**
 * Captures what restage logs (src/log.ts) during a test, so a test that provokes an error
 * on purpose asserts on its log line instead of printing it. The unit's Durable Objects
 * run in the tests' isolate, so their lines are caught too.
 */
import { afterEach } from "vitest";
import { setLogSink, type LogEntry, type LogEvent } from "../../src/log";

/**
 * Collects every log entry until the current test ends.
 * @example const logs = captureLogs(); ...; expect(logs.of("unhandled")[0]).toMatchObject({ path: "/x" })
 */
export function captureLogs(): { entries: LogEntry[]; of(event: LogEvent): LogEntry[] } {
  const entries: LogEntry[] = [];
  setLogSink((entry) => void entries.push(entry));
  return { entries, of: (event) => entries.filter((entry) => entry.event === event) };
}

afterEach(() => setLogSink(undefined));
