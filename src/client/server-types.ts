/**
 * Every type the client takes from the server, in one place. The client's other files
 * import the server only through here (and, for values, ../chunks and ../limits, which the
 * build bundles), so its published declarations can stand alone: scripts/build-client.mjs
 * writes this file's declaration with each type spelt out, with no reference to the
 * server's files, workers-types, the DOM or JSX.
 */
import type { z } from "@hono/zod-openapi";
import type { ExtractSchema } from "hono/types";
import type { AppType } from "../app";
import type { ChunkLimits as ServerChunkLimits } from "../chunks";
import type { ErrorCode as ServerErrorCode } from "../errors";
import type { BatchLine } from "../schemas";

/** Every route of the API: path, method, input and each documented answer. */
export type ApiSchema = ExtractSchema<AppType>;

/** The `message` codes of the API's error answers. */
export type ErrorCode = ServerErrorCode;

/** One NDJSON line as the client sends it (policy and version optional). */
export type BatchLineInput = z.input<typeof BatchLine>;

/** The most lines and bytes of one `transaction/batch` call. */
export type ChunkLimits = Spelt<ServerChunkLimits>;

/** An interface's members as a type literal: the build prints an interface by its name, a literal in full. */
type Spelt<T> = { [K in keyof T]: T[K] };
