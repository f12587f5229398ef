/**
 * The shapes of the API's answers (API.md): each operation's 200 schema and the error
 * envelope. They document `/openapi.json`, type the handlers (an answer missing a field,
 * or with a misspelt one, fails `tsc`) and type the client's answers.
 */
import { z } from "@hono/zod-openapi";
import { ERROR_STATUS, type ErrorCode } from "../errors";
import { ModulesBody, ReprocessingSettings, ScheduleBody } from "../schemas";

const CODES = Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]];

/** `{"message": CODE, "detail": "..."}`: every error answer. */
export const ErrorAnswer = z.object({ message: z.enum(CODES), detail: z.string() });

/** The error envelope limited to the codes one status of one operation can give. */
export function errorAnswer(codes: ErrorCode[]) {
  return z.object({
    message: z.enum(codes as [ErrorCode, ...ErrorCode[]]).openapi({ description: "the error code" }),
    detail: z.string().openapi({ description: "what was wrong and how to fix it" }),
  });
}

/** `{"message":"OK", ...fields}` */
export function okWith<T extends z.ZodRawShape>(fields: T) {
  return z.object({ message: z.literal("OK"), ...fields });
}

export const Ok = okWith({}).openapi("Ok");

const Count = z.number().int().nonnegative();
const IsoTime = z.string().openapi({ description: "ISO 8601 time", example: "2026-11-28T10:00:00.000Z" });

/** A JSON object as stored: any fields. */
const JsonObject = z.record(z.string(), z.unknown()).openapi({ type: "object", additionalProperties: true });

export const RecordAnswer = z
  .object({
    key: z.string(),
    content: z.record(z.string(), JsonObject).openapi({ description: "scope → its content" }),
    meta: z
      .record(z.string(), z.object({ version: z.number(), updatedAt: IsoTime }))
      .openapi({ description: "scope → its version and time of write" }),
  })
  .openapi("Record");

export const FetchAnswer = okWith(RecordAnswer.shape).openapi("FetchAnswer");
export const RecordsAnswer = okWith({
  records: z.array(RecordAnswer),
  remainingKeys: z
    .array(z.string())
    .optional()
    .openapi({ description: "keys not sent because the answer reached its size limit: ask for them again" }),
}).openapi("RecordsAnswer");
export const PageAnswer = okWith({
  records: z.array(RecordAnswer),
  nextStartId: z.string().optional().openapi({ description: "the cursor of the next page; absent on the last page" }),
}).openapi("PageAnswer");

export const BatchError = z
  .object({ line: z.number().int(), key: z.string().optional(), error: z.string(), detail: z.string() })
  .openapi("BatchError");
export const BatchAnswer = z
  .object({
    message: z.enum(["OK", "COMPLETED_WITH_ERRORS"]),
    count: Count.openapi({ description: "lines applied" }),
    errors: z.array(BatchError).optional().openapi({ description: "the lines not applied (COMPLETED_WITH_ERRORS only)" }),
  })
  .openapi("BatchAnswer");

export const QueueCounts = z.object({ pending: Count, assigned: Count, failed: Count });

/** A split's progress; null when none runs (API.md, "Sharded storage units"). */
const Splitting = z
  .object({
    from: Count.openapi({ description: "shards before the split" }),
    to: Count.openapi({ description: "shards after it" }),
    moved: Count.openapi({ description: "keys the old shards have gone through" }),
    total: Count.openapi({ description: "keys the old shards held when the split began" }),
  })
  .nullable()
  .openapi("Splitting", { description: "a split's progress; null when no split runs" });

export const SplitAnswer = okWith({ splitting: z.literal(true) }).openapi("SplitAnswer");

export const StatusAnswer = okWith({
  enabled: z.boolean(),
  paused: z.boolean(),
  filling: z.boolean().openapi({ description: "a reprocess/all is still putting keys in the queue" }),
  fillRemaining: Count.openapi({ description: "keys the running reprocess/all has still to queue" }),
  ...QueueCounts.shape,
  processed: Count.openapi({ description: "items completed since the unit was created" }),
  itemsPerSecond: z.number().nonnegative().openapi({ description: "items completed or failed per second over the last 60 s" }),
  etaSeconds: z
    .number()
    .int()
    .nonnegative()
    .nullable()
    .openapi({ description: "(pending + assigned + keys not yet filled) / itemsPerSecond; null when idle or unknown" }),
  nextRunAt: IsoTime.nullable(),
  lastError: z.string().nullable(),
  splitting: Splitting,
}).openapi("StatusAnswer");

export const RunAnswerShape = z
  .object({
    id: z.string(),
    scope: z.string(),
    prefix: z.string().nullable(),
    since: IsoTime.nullable(),
    trigger: z.enum(["api", "schedule"]),
    state: z.enum(["filling", "running", "done", "cancelled", "replaced"]),
    total: Count.openapi({ description: "keys the run's fill reaches (keys already pending count too)" }),
    processed: Count.openapi({ description: "its items completed so far" }),
    failed: Count.openapi({ description: "its items failed for good so far" }),
    startedAt: IsoTime,
    finishedAt: IsoTime.nullable(),
    itemsPerSecond: z.number().nonnegative().openapi({ description: "its items completed or failed per second over the last 60 s" }),
    etaSeconds: z.number().int().nonnegative().nullable().openapi({ description: "null when finished, idle or unknown" }),
  })
  .openapi("Run");
export const RunsAnswer = okWith({ runs: z.array(RunAnswerShape).openapi({ description: "newest first" }) }).openapi("RunsAnswer");
export const RunAnswer = okWith({ run: RunAnswerShape }).openapi("RunAnswer");
export const CancelAnswer = okWith({
  dropped: Count.openapi({ description: "its pending items removed plus the keys it had not yet filled" }),
}).openapi("CancelAnswer");

export const FailedAnswer = okWith({
  items: z.array(z.object({ scope: z.string(), key: z.string(), attempts: Count, lastError: z.string().nullable(), failedAt: IsoTime.nullable() })),
  nextCursor: z.string().nullable(),
}).openapi("FailedAnswer");

export const HistoryAnswer = okWith({
  points: z
    .array(
      z.object({
        at: IsoTime.openapi({ description: "the minute's start" }),
        processed: Count.openapi({ description: "items completed in that minute" }),
        failed: Count.openapi({ description: "items failed for good in that minute" }),
        pending: Count.openapi({ description: "items pending at the minute's end (now, for the current minute)" }),
      }),
    )
    .openapi({ description: "one point per minute, oldest first, the last the current minute" }),
}).openapi("HistoryAnswer");

export const RunStartedAnswer = okWith({
  queued: Count,
  runId: z.string().openapi({ description: "follow it at GET /reprocess/run/<unit>/<runId>" }),
}).openapi("RunStartedAnswer");
export const KeysQueuedAnswer = okWith({ queued: Count, missing: z.array(z.string()).openapi({ description: "keys without that scope" }) }).openapi(
  "KeysQueuedAnswer",
);
export const UnassignedAnswer = okWith({ unassigned: Count }).openapi("UnassignedAnswer");
export const RequeuedAnswer = okWith({ requeued: Count }).openapi("RequeuedAnswer");
export const PurgedAnswer = okWith({ purged: Count }).openapi("PurgedAnswer");

export const UnitListAnswer = okWith({ storageUnits: z.array(z.object({ name: z.string(), createdAt: IsoTime })) }).openapi("UnitListAnswer");
export const UnitAnswer = okWith({
  storageUnit: z.object({
    name: z.string(),
    createdAt: IsoTime,
    contentProcessing: z.boolean(),
    reprocessingQueue: z.boolean(),
    paused: z.boolean(),
    processed: Count,
    lastError: z.string().nullable(),
    settings: ReprocessingSettings,
    records: Count,
    queue: QueueCounts,
    splitting: Splitting,
  }),
}).openapi("UnitAnswer");
export const ModulesAnswer = okWith(ModulesBody.shape).openapi("ModulesAnswer");
export const SettingsAnswer = okWith({ settings: ReprocessingSettings }).openapi("SettingsAnswer");
const ScheduleState = ScheduleBody.shape.schedules.element.extend({ nextRunAt: IsoTime });
export const SchedulesAnswer = okWith({ schedules: z.array(ScheduleState) }).openapi("SchedulesAnswer");

export const Permission = z.enum(["r", "w", "rw"]).openapi({
  description:
    "r: access/*, reprocess/status, reprocess/failed, reprocess/runs, reprocess/run; w: transaction/* and the other reprocess/* routes; rw: both",
});
export const TokenAnswer = okWith({ token: z.string().openapi({ description: "shown once; the server keeps its hash" }) }).openapi("TokenAnswer");
export const UsersAnswer = okWith({ users: z.array(z.object({ name: z.string(), grants: z.record(z.string(), Permission) })) }).openapi(
  "UsersAnswer",
);
export const WhoamiAnswer = okWith({
  admin: z.boolean().openapi({ description: "the admin token: every route" }),
  user: z.string().nullable().openapi({ description: "the user holding the token; null for the admin token" }),
  grants: z.record(z.string(), Permission).openapi({ description: "unit → the user's grant there; empty for the admin token" }),
}).openapi("WhoamiAnswer");
