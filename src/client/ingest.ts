/**
 * A large ingest as `transaction/batch` calls within the limits of one call (API.md: at
 * most 10,000 lines and 16 MiB, measured in UTF-8 bytes): lines go out in order, one call
 * at a time, and the per-line errors come back numbered by the line's place in the whole
 * ingest (1 = the first line given), not in its call.
 */
import { Chunker } from "../chunks";
import { LIMITS } from "../limits";
import { data, RestageError } from "./answers.js";
import type { RestageApi } from "./index.js";
import type { BatchLineInput, ChunkLimits } from "./server-types.js";

export type { BatchLineInput } from "./server-types.js";

export interface IngestResult {
  /** lines applied */
  count: number;
  /** the lines not applied; `line` counts from 1 over the whole ingest */
  errors: Array<{ line: number; key?: string; error: string; detail: string }>;
  /** transaction/batch calls made */
  calls: number;
}

/** A whole call refused (a unit that does not exist, a token without the grant, ...): the calls before it were applied. */
export class IngestError extends RestageError {
  constructor(
    cause: RestageError,
    /** what the earlier calls applied */
    readonly done: IngestResult,
    /** the ingest's number of the first line of the refused call */
    readonly fromLine: number,
  ) {
    super(cause.status, cause.code, `${cause.detail} (lines from ${fromLine} on were not sent; ${done.count} applied before)`);
    this.name = "IngestError";
  }
}

const utf8 = new TextEncoder();
export const BATCH_LIMITS: ChunkLimits = { maxItems: LIMITS.batchLines, maxBytes: LIMITS.batchBytes };

/**
 * Sends every line to `transaction/batch/<unit>`, split into calls within `limits`.
 * @example const { count, errors } = await ingest(api, "docs", lines);
 */
export async function ingest(
  api: RestageApi,
  unit: string,
  lines: Iterable<BatchLineInput> | AsyncIterable<BatchLineInput>,
  limits: ChunkLimits = BATCH_LIMITS,
): Promise<IngestResult> {
  const result: IngestResult = { count: 0, errors: [], calls: 0 };
  const chunker = new Chunker<{ text: string; bytes: number; line: number }>(limits);
  const send = async (chunk: Array<{ text: string; line: number }>) => {
    result.calls++;
    const answer = await data(
      api.transaction.batch[":unit"].$post({ param: { unit } }, { init: { body: chunk.map(({ text }) => text).join("\n") } }),
    ).catch((error: unknown) => {
      throw error instanceof RestageError ? new IngestError(error, result, chunk[0]!.line) : error;
    });
    result.count += answer.count;
    // the call numbers its lines from 1: line i of the call is chunk[i - 1]
    for (const error of answer.errors ?? []) result.errors.push({ ...error, line: chunk[error.line - 1]?.line ?? error.line });
  };
  let line = 0;
  for await (const entry of lines) {
    const text = JSON.stringify(entry);
    // the newline that joins it to the next line counts too
    const full = chunker.push({ text, bytes: utf8.encode(text).length + 1, line: ++line });
    if (full) await send(full);
  }
  const last = chunker.flush();
  if (last) await send(last);
  return result;
}
