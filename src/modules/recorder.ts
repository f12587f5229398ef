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

const MAX_CALLS = 100_000;

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
  create: ({ settings, scope, unitName, unitSettings }) => {
    const note = (call: Omit<RecordedCall, "unit" | "scope" | "tag" | "at">) => {
      recordedCalls.push({ unit: unitName, scope, tag: settings.tag, at: Date.now(), ...call });
      if (recordedCalls.length > MAX_CALLS) recordedCalls.splice(0, recordedCalls.length - MAX_CALLS);
    };
    return {
      batchStart: (items) => note({ event: "batchStart", batchSize: items.length, unitSettings }),
      process: (item) => note({ event: "process", key: item.key, kind: item.kind, document: item.document && structuredClone(item.document) }),
      batchEnd: (items) => note({ event: "batchEnd", batchSize: items.length }),
    };
  },
});
