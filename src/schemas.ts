/**
 * zod schemas shared by the routes: they validate requests and, through
 * `@hono/zod-openapi`, describe the same shapes in `/openapi.json`.
 */
import { z } from "@hono/zod-openapi";
import { LIMITS } from "./limits";
import { isShardCount, MAX_SHARDS } from "./routing/layout";

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const NAME_RULE = "1-64 characters: letters, digits, '_', '.', '-', starting with a letter or digit";

export const Name = z.string().regex(NAME_PATTERN, NAME_RULE);
export const UnitName = Name.openapi({ description: "storage unit name", example: "docs" });
export const ScopeName = Name.openapi({ description: "scope name", example: "raw" });
export const UserName = Name.openapi({ description: "user name", example: "crawler" });
/** `$record` stands for every scope of a record in fetch and delete. */
export const RECORD_SCOPE = "$record";
export const ScopeOrRecord = z.union([z.literal(RECORD_SCOPE), Name]).openapi({ description: "a scope, or $record for all scopes", example: "raw" });

const utf8 = new TextEncoder();
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point: keys must not hold them
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;
/** A surrogate without its pair has no UTF-8 form: stored, such a key reads back mangled and may collide with another. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export const Key = z
  .string()
  .min(1, "a key must not be empty")
  .refine((key) => utf8.encode(key).length <= LIMITS.keyBytes, `a key is at most ${LIMITS.keyBytes} UTF-8 bytes`)
  .refine((key) => !CONTROL_CHARS.test(key), "a key must not contain control characters")
  .refine((key) => !LONE_SURROGATE.test(key), "a key must be valid Unicode: no unpaired surrogate such as \\ud800")
  .openapi({ description: "record key (percent-encoded in a path)", example: "doc-1" });

export const Version = z.number().finite().nonnegative().openapi({ description: "version of the write; default: now in ms", example: 1764324000000 });

/** A JSON object: the content of one scope. */
export const Content = z
  .record(z.string(), z.unknown())
  .openapi({ type: "object", additionalProperties: true, description: "the scope's content, a JSON object (any fields)" });

export const AddBody = z
  .object({
    key: Key,
    content: Content,
    policy: z.enum(["merge", "overwrite", "new"]).default("merge"),
    version: Version.optional(),
  })
  .openapi("AddBody");

export const ExecuteBody = z
  .object({
    key: Key,
    action: z.literal("delete"),
    policy: z.enum(["silent", "mustexist"]).default("silent"),
    version: Version.optional(),
  })
  .openapi("ExecuteBody");

/** One NDJSON line of `transaction/batch`. */
export const BatchLine = z.discriminatedUnion("action", [
  z.object({
    action: z.literal("add"),
    scope: ScopeName,
    key: Key,
    content: Content,
    policy: z.enum(["merge", "overwrite", "new"]).default("merge"),
    version: Version.optional(),
  }),
  z.object({
    action: z.literal("delete"),
    scope: ScopeOrRecord,
    key: Key,
    policy: z.enum(["silent", "mustexist"]).default("silent"),
    version: Version.optional(),
  }),
]);
export type BatchLine = z.infer<typeof BatchLine>;

/**
 * A batch line as the route hands it to a shard: an add's content as the JSON text it is
 * stored as, serialized once by the route (which measures it) rather than copied into the
 * shard as objects and serialized there again.
 */
export type StoredLine = Exclude<BatchLine, { action: "add" }> | (Omit<Extract<BatchLine, { action: "add" }>, "content"> & { contentJson: string });

export const KeysBody = z.object({ keys: z.array(Key).min(1, "give at least one key") }).openapi("KeysBody");

export const CreateUnitBody = z
  .object({
    contentProcessing: z.boolean().default(true),
    reprocessingQueue: z.boolean().default(false),
    shards: z
      .number()
      .refine(isShardCount, `shards must be a power of two from 1 to ${MAX_SHARDS} (1, 2, 4, … ${MAX_SHARDS})`)
      .default(1)
      .openapi({ description: "objects the unit is spread over (a power of two, 1–256)", example: 8 }),
  })
  .strict()
  .openapi("CreateUnitBody");

export const SplitBody = z
  .object({
    shards: z
      .number()
      .int()
      .openapi({ description: "the count to split into: a power of two greater than the unit's shards, at most 256", example: 16 }),
  })
  .strict()
  .openapi("SplitBody");

export const ModuleRef = z.object({ module: z.string().min(1), settings: z.record(z.string(), z.unknown()).default({}) }).strict();
export const ModulesBody = z
  .object({
    modules: z.record(Name, z.array(ModuleRef)),
    settings: z.record(z.string(), z.unknown()).default({}),
  })
  .strict()
  .openapi("ModulesBody");
export type ModulesConfig = z.infer<typeof ModulesBody>;

/** A `true` / `false` path parameter. */
export const BooleanParam = z.enum(["true", "false"]).transform((value) => value === "true");

export const UnitParam = z.object({ unit: UnitName });
export const UnitScopeParam = z.object({ unit: UnitName, scope: ScopeName });

export const ReprocessingSettings = z
  .object({
    batchSize: z.number().int().min(1).max(1000),
    workers: z.number().int().min(1).max(16),
    concurrency: z.number().int().min(1).max(64),
    leaseMs: z.number().int().min(1000).max(3_600_000),
    maxAttempts: z.number().int().min(1).max(100),
    backoffMs: z.number().int().min(10).max(3_600_000),
    maxBackoffMs: z.number().int().min(10).max(86_400_000),
    maxItemsPerSecond: z.number().int().min(1).max(1_000_000).nullable(),
  })
  .openapi("ReprocessingSettings");
export type ReprocessingSettings = z.infer<typeof ReprocessingSettings>;

export const DEFAULT_REPROCESSING_SETTINGS: ReprocessingSettings = {
  batchSize: 20,
  workers: 4,
  concurrency: 8,
  leaseMs: 60_000,
  maxAttempts: 5,
  backoffMs: 1000,
  maxBackoffMs: 300_000,
  maxItemsPerSecond: null,
};

export const ReprocessingSettingsPatch = ReprocessingSettings.partial().strict();

export const ScheduleBody = z
  .object({ schedules: z.array(z.object({ scope: ScopeName, cron: z.string().min(1) }).strict()).max(100) })
  .strict()
  .openapi("ScheduleBody");
export type Schedule = z.infer<typeof ScheduleBody>["schedules"][number];
