import { z } from "@hono/zod-openapi";
import { defineModule, type Document } from "./types";

export interface RecordedCall {
  unit: string;
  scope: string;
  tag: string | undefined;
  event: "batchStart" | "process" | "batchEnd";
  key?: string;
  kind?: "process" | "delete";
  document?: Document | null;
  batchSize?: number;
  /** on batchStart: the unit-level settings the modules were given */
  unitSettings?: Record<string, unknown>;
  at: number;
}

/** Calls kept unless RESTAGE_RECORDER_MAX_CALLS says otherwise: enough for a test's batches, little for an isolate's memory. */
const DEFAULT_MAX_CALLS = 10_000;

function maxCalls(env: Record<string, unknown>): number {
  const asked = Number(env.RESTAGE_RECORDER_MAX_CALLS);
  return Number.isInteger(asked) && asked > 0 ? asked : DEFAULT_MAX_CALLS;
}

/**
 * The calls the Recorder module saw in this isolate, oldest first (bounded). Tests in the
 * Workers runtime share the isolate with the unit, so they read it directly.
 */
export const recordedCalls: RecordedCall[] = [];

/** Records each event it receives, for tests and for watching a pipeline while debugging. */
export const Recorder = defineModule({
  name: "Recorder",
  description: "Records every BatchStart / Process / BatchEnd call it receives (in memory, bounded); changes nothing.",
  settings: z.object({ tag: z.string().max(100).optional() }).strict(),
  create: ({ settings, scope, unitName, unitSettings, env }) => {
    const limit = maxCalls(env);
    const note = (call: Omit<RecordedCall, "unit" | "scope" | "tag" | "at">) => {
      recordedCalls.push({ unit: unitName, scope, tag: settings.tag, at: Date.now(), ...call });
      if (recordedCalls.length > limit) recordedCalls.splice(0, recordedCalls.length - limit);
    };
    return {
      batchStart: (items) => note({ event: "batchStart", batchSize: items.length, unitSettings }),
      process: (item) => note({ event: "process", key: item.key, kind: item.kind, document: item.document && structuredClone(item.document) }),
      batchEnd: (items) => note({ event: "batchEnd", batchSize: items.length }),
    };
  },
});
