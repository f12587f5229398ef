/**
 * Helpers for the reprocessing tests: pipelines, bulk records, status reads, and ways to
 * drive or wait for a unit's job. Background alarms also fire on their own in the test
 * runtime, so every wait here is "until this holds", never "this long".
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { expect } from "vitest";
import { recordedCalls, type RecordedCall } from "../src/modules/recorder";
import type { UnitStatus } from "../src/unit/answers";
import type { StorageUnit } from "../src/unit/storage-unit";
import { call, unitStub } from "./helpers";

export type Status = UnitStatus & { message: string; etaSeconds: number | null };
export type ModuleRef = { module: string; settings?: Record<string, unknown> };

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Sets the unit's pipelines, failing the test unless they were accepted. */
export async function setPipelines(unit: string, modules: Record<string, ModuleRef[]>): Promise<void> {
  const answer = await call("POST", `/admin/setContentProcessingModules/${unit}`, { modules });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
}

export async function setSettings(unit: string, settings: Record<string, unknown>): Promise<void> {
  const answer = await call("PUT", `/admin/setReprocessingSettings/${unit}`, settings);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
}

/** Writes `count` records `<prefix><n>` (zero-padded, so key order is number order) to one scope through transaction/batch. */
export async function addMany(unit: string, scope: string, count: number, prefix = "k"): Promise<string[]> {
  const keys = Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(6, "0")}`);
  for (let start = 0; start < keys.length; start += 10_000) {
    const lines = keys.slice(start, start + 10_000).map((key, i) => JSON.stringify({ action: "add", scope, key, content: { n: start + i } }));
    const answer = await call("POST", `/transaction/batch/${unit}`, lines.join("\n"));
    expect(answer.body).toEqual({ message: "OK", count: lines.length });
  }
  return keys;
}

export async function status(unit: string): Promise<Status> {
  const answer = await call<Status>("GET", `/reprocess/status/${unit}`);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body;
}

/** Polls `probe` until it returns a value other than undefined; fails after `timeoutMs`. */
export async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Waits until the status satisfies `test`, returning it. */
export function waitForStatus(unit: string, test: (s: Status) => boolean, what: string, timeoutMs?: number): Promise<Status> {
  return waitFor(
    async () => {
      const s = await status(unit);
      return test(s) ? s : undefined;
    },
    what,
    timeoutMs,
  );
}

const idle = (s: Status) => s.pending === 0 && s.assigned === 0 && !s.filling;

/**
 * Runs the unit's alarm until nothing is left to do (pending, assigned and filling all
 * clear). A background alarm may be running at the same moment: then this waits for it.
 */
export async function drain(unit: string, timeoutMs = 30_000): Promise<Status> {
  const stub = unitStub(unit);
  return waitFor(
    async () => {
      while (await runDurableObjectAlarm(stub)) {
        const s = await status(unit);
        if (idle(s)) return s;
      }
      const s = await status(unit);
      return idle(s) ? s : undefined;
    },
    `unit ${unit} to drain`,
    timeoutMs,
  );
}

/** The Recorder calls of one unit (Recorder settings `tag` = unit name), optionally of one event. */
export function recorded(unit: string, event?: RecordedCall["event"]): RecordedCall[] {
  return recordedCalls.filter((c) => c.tag === unit && (event === undefined || c.event === event));
}

/** A Recorder module tagged with the unit name, so a test reads only its own calls. */
export const recorder = (unit: string): ModuleRef => ({ module: "Recorder", settings: { tag: unit } });

/** Runs `fn` on the unit's live instance, with its internals (queue, config) reachable. */
export function onInstance<R>(unit: string, fn: (instance: UnitInternals, state: DurableObjectState) => R | Promise<R>): Promise<R> {
  return runInDurableObject(unitStub(unit), (instance: StorageUnit, state) => fn((instance as unknown as { parts: UnitInternals }).parts, state));
}

/** The parts of a StorageUnit instance the white-box tests reach into. */
export interface UnitInternals {
  queue: import("../src/unit/queue").Queue;
  sql: import("../src/unit/sql").Sql;
  config: import("../src/unit/config").ConfigStore;
}
