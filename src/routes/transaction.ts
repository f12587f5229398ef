/** Transaction API (API.md, "Transaction API"): add, delete and NDJSON batches. */
import type { ChunkLimits } from "../chunks";
import { ApiError, failure, isOverloaded, unwrap, type Failure } from "../errors";
import { parseJson, readText } from "../http/body";
import { BatchAnswer, Ok } from "../http/answers";
import { routes, type App } from "../http/route";
import type { Env } from "../env";
import type { Schema } from "hono";
import { CONTENT_ADVICE, contentTooLarge, jsonBytes, LIMITS } from "../limits";
import { AddBody, BatchLine, ExecuteBody, ScopeOrRecord, type StoredLine, UnitName, UnitParam, UnitScopeParam } from "../schemas";
import type { BatchLineResult } from "../unit/answers";
import type { Json } from "../unit/records";
import { describeIssues } from "../zod-issues";
import { shardedUnit } from "../shards/protocol";
import type { Caller } from "../unit/grants";
import { ok } from "./units";
import { z } from "@hono/zod-openapi";
import { log } from "../log";
import { storageFullError } from "../unit/capacity";

const tag = "Transaction";

/** Lines sent to the unit in one call (bytes: the lines' NDJSON text in UTF-8): a 16 MiB batch never travels as one giant RPC. */
const PER_CALL: ChunkLimits = { maxItems: 500, maxBytes: 2 * 1024 * 1024 };

export function transactionRoutes<S extends Schema>(app: App<S>) {
  const add = {
    path: "/transaction/add/{unit}/{scope}",
    summary: "Write one scope of a record",
    tag,
    access: "write",
    params: UnitScopeParam,
    body: AddBody,
    answer: Ok,
    errors: ["STORAGE_UNIT_DOESNT_EXIST", "KEY_ALREADY_EXISTS", "NEWER_VERSION_ALREADY_EXISTS", "STORAGE_FULL"],
  } as const;
  const execute = {
    path: "/transaction/execute/{unit}/{scope}",
    summary: "Delete one scope of a record, or every scope with $record",
    tag,
    access: "write",
    params: z.object({ unit: UnitName, scope: ScopeOrRecord }),
    body: ExecuteBody,
    answer: Ok,
    errors: ["STORAGE_UNIT_DOESNT_EXIST", "KEY_NOT_FOUND", "NEWER_VERSION_ALREADY_EXISTS"],
  } as const;
  const addHandler = async (c: Ctx, params: { unit: string; scope: string }, body: z.output<typeof AddBody>) => {
    const { content, ...rest } = body;
    unwrap(await shardedUnit(c.env, params.unit).add(c.var.caller, params.scope, { ...rest, contentJson: storableJson(content) }));
  };
  const executeHandler = async (c: Ctx, params: { unit: string; scope: string }, body: z.output<typeof ExecuteBody>) => {
    unwrap(await shardedUnit(c.env, params.unit).remove(c.var.caller, params.scope, body));
  };
  return routes(app)
    .add({ ...add, method: "put", operationId: "add" }, async (c) => {
      await addHandler(c, c.req.valid("param"), c.req.valid("json"));
      return ok(c);
    })
    .add({ ...add, method: "post", operationId: "addPost" }, async (c) => {
      await addHandler(c, c.req.valid("param"), c.req.valid("json"));
      return ok(c);
    })
    .add({ ...execute, method: "put", operationId: "execute" }, async (c) => {
      await executeHandler(c, c.req.valid("param"), c.req.valid("json"));
      return ok(c);
    })
    .add({ ...execute, method: "post", operationId: "executePost" }, async (c) => {
      await executeHandler(c, c.req.valid("param"), c.req.valid("json"));
      return ok(c);
    })
    .add(
      {
        method: "post",
        path: "/transaction/batch/{unit}",
        operationId: "batch",
        summary: "Apply NDJSON lines of adds and deletes, each on its own",
        description: `The body is NDJSON whatever its content type: at most ${LIMITS.batchLines} lines and ${LIMITS.batchBytes} bytes. A body that is one JSON array (it starts with \`[\`) is 400 INVALID_REQUEST: send one object per line.`,
        tag,
        access: "write",
        params: UnitParam,
        rawBody: {
          mediaType: "application/x-ndjson",
          description: 'one JSON object a line: {"action":"add"|"delete","scope":...,"key":...,"content":...,"policy":...,"version":...}',
        },
        answer: BatchAnswer,
        errors: ["STORAGE_UNIT_DOESNT_EXIST", "STORAGE_FULL"],
      },
      async (c) => c.json(await applyBatch(c, c.req.valid("param").unit), 200),
    ).app;
}

type Ctx = { env: Env; var: { caller: Caller }; req: { header(name: string): string | undefined; raw: Request } };

async function applyBatch(c: Ctx, unit: string): Promise<z.output<typeof BatchAnswer>> {
  const caller = c.var.caller;
  const text = await readText(c, LIMITS.batchBytes, "split the lines into several batches");
  if (text.trimStart().startsWith("[")) {
    // a JSON array would read as one line that is not an object: refuse it whole rather than answer "0 applied"
    throw new ApiError(
      "INVALID_REQUEST",
      "the body is one JSON array, but transaction/batch reads NDJSON: send one JSON object per line, with no enclosing [ ] (`jq -c '.[]'` turns an array into such lines)",
    );
  }
  const lines = text.split("\n");
  if (lines.filter((line) => line.trim() !== "").length > LIMITS.batchLines) {
    throw new ApiError("PAYLOAD_TOO_LARGE", `a batch holds at most ${LIMITS.batchLines} lines; split it`);
  }
  const errors: BatchLineResult[] = [];
  const valid: Array<{ line: number; entry: StoredLine; bytes: number }> = [];
  lines.forEach((raw, index) => {
    if (raw.trim() === "") return;
    const line = index + 1;
    try {
      const parsed = BatchLine.safeParse(parseJson(raw, `line ${line}`));
      if (!parsed.success) throw new ApiError("INVALID_REQUEST", describeIssues(parsed.error, `line ${line}`));
      valid.push({ line, entry: storedLine(parsed.data, line), bytes: jsonBytes(raw) });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const key = safeKey(raw);
      errors.push({ line, ...(key === undefined ? {} : { key }), error: error.code, detail: error.detail });
    }
  });
  if (valid.length === 0 && errors.length === 0) throw new ApiError("INVALID_REQUEST", "the batch is empty: send one JSON object a line");
  const target = shardedUnit(c.env, unit);
  // with nothing applied the request fails whole, as any request does (app.ts onError); else each refused line says why
  const { applied, errors: refused } = unwrap(await target.batch(caller, valid, PER_CALL, (error) => failedCall(error, unit)));
  errors.push(...refused);
  if (errors.length === 0) return { message: "OK", count: applied };
  // a full shard refuses the request as a whole only when it refused all of it (API.md: 507, per line otherwise)
  const full = applied === 0 ? errors.find((error) => error.error === "STORAGE_FULL") : undefined;
  if (full) throw new ApiError("STORAGE_FULL", full.detail);
  errors.sort((a, b) => a.line - b.line);
  return { message: "COMPLETED_WITH_ERRORS", count: applied, errors };
}

/**
 * A scope's content as the JSON text a shard stores: serialized once, here, where it is
 * measured against the limit, rather than copied into the shard as objects and serialized
 * there again. `where` prefixes the refusal ("line 3: ").
 */
function storableJson(content: Json, where = ""): string {
  const json = JSON.stringify(content);
  const tooLarge = contentTooLarge(json);
  if (tooLarge) throw new ApiError("PAYLOAD_TOO_LARGE", `${where}${tooLarge}: ${CONTENT_ADVICE}`);
  return json;
}

/** The line as a shard stores it: an add's content as JSON text. */
function storedLine(entry: BatchLine, line: number): StoredLine {
  if (entry.action !== "add") return entry;
  const { content, ...rest } = entry;
  return { ...rest, contentJson: storableJson(content, `line ${line}: `) };
}

/** The error each line of a call that threw gets: the refusal, OVERLOADED, STORAGE_FULL, or INTERNAL_ERROR (logged, never shown). */
function failedCall(error: unknown, unit: string): Failure {
  const known = error instanceof ApiError ? error : storageFullError(error);
  if (known) return failure(known.code, known.detail);
  if (isOverloaded(error))
    return failure("OVERLOADED", "the storage unit was overloaded and did not apply this line; send it again after a short wait");
  log("error", "batch-call-failed", { unit, error: String(error), stack: (error as Error)?.stack });
  return failure(
    "INTERNAL_ERROR",
    "an unexpected error occurred while applying this line (it has been logged); it may not have been applied: send it again",
  );
}

/** The key of a line that failed validation, when one can be read, for the error entry. */
function safeKey(raw: string): string | undefined {
  try {
    const value = JSON.parse(raw) as { key?: unknown };
    return typeof value?.key === "string" ? value.key : undefined;
  } catch {
    return undefined;
  }
}
