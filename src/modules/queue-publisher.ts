import { z } from "@hono/zod-openapi";
import { chunksWithin, type ChunkLimits } from "../chunks";
import { jsonBytes } from "../limits";
import { defineModule, envValue, type PipelineItem } from "./types";

/** Cloudflare Queues limits: one message, and one `sendBatch` call (messages and bytes). */
export const QUEUE_LIMITS = { messageBytes: 128_000, batchBytes: 256_000, batchMessages: 100 } as const;
/** One `sendBatch` call, within the Queue limits. */
const PER_SEND: ChunkLimits = { maxItems: QUEUE_LIMITS.batchMessages, maxBytes: QUEUE_LIMITS.batchBytes };
/** Room left per message for what the platform adds to it (id, timestamp, content type). */
const MESSAGE_OVERHEAD_BYTES = 100;

/** The body of one message: a document, a deletion, or a reference to a document too large to carry. */
export type OutboxMessage =
  | { unit: string; scope: string; key: string; kind: "process"; version: number | null; document: Record<string, unknown> }
  | { unit: string; scope: string; key: string; kind: "delete" }
  | { unit: string; scope: string; key: string; kind: "process"; version: number | null; tooLarge: true };

interface QueueProducer {
  sendBatch(messages: Iterable<{ body: unknown; contentType?: string }>): Promise<unknown>;
}

/**
 * Sends each document or deletion to a Cloudflare Queue producer binding, with `sendBatch`
 * in BatchEnd, split to stay within the Queue limits (100 messages, 256 KB a call). A
 * message that would pass 128 KB carries a reference instead (`tooLarge: true`): the
 * consumer fetches the scope with `GET /access/fetch/<unit>/<key>/<scope>`. A failed send
 * fails the batch; messages already sent are sent again on retry (at least once).
 *
 * @example {"module":"QueuePublisher","settings":{"binding":"OUTBOX"}}
 */
export const QueuePublisher = defineModule({
  name: "QueuePublisher",
  description: "Sends each document or deletion as a message to a Cloudflare Queue binding (documents over 128 KB as a reference).",
  settings: z
    .object({ binding: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, "the name of a Queue producer binding (letters, digits, '_')") })
    .strict(),
  checkEnvironment: (settings, env) => (isQueue(envValue(env, settings.binding)) ? undefined : missingBinding(settings.binding)),
  create: ({ settings, env, unitName }) => {
    const collected: Array<{ item: PipelineItem; body: OutboxMessage; bytes: number }> = [];
    return {
      process(item) {
        collected.push({ item, ...messageFor(unitName, item) });
      },
      async batchEnd() {
        const queue = envValue(env, settings.binding);
        if (!isQueue(queue)) throw new Error(`QueuePublisher: ${missingBinding(settings.binding)}`);
        // an item a later module failed will run again; sending it now would be premature
        const messages = collected.filter((message) => message.item.failure === undefined);
        for (const chunk of chunksWithin(messages, PER_SEND)) {
          await queue.sendBatch(chunk.map((message) => ({ body: message.body, contentType: "json" })));
        }
      },
    };
  },
});

function isQueue(value: unknown): value is QueueProducer {
  return typeof value === "object" && value !== null && typeof (value as QueueProducer).sendBatch === "function";
}

function missingBinding(name: string): string {
  return `settings.binding: no Queue producer binding named '${name}' in the Worker's environment; add [[queues.producers]] with binding = "${name}" to wrangler.toml`;
}

/** The message for one item and its size as sent (JSON, plus the platform's share). */
function messageFor(unit: string, item: PipelineItem): { body: OutboxMessage; bytes: number } {
  const base = { unit, scope: item.scope, key: item.key };
  const body: OutboxMessage =
    item.document === null
      ? { ...base, kind: "delete" }
      : { ...base, kind: "process", version: item.version, document: structuredClone(item.document) };
  const bytes = sizeOf(body);
  if (bytes <= QUEUE_LIMITS.messageBytes) return { body, bytes };
  const reference: OutboxMessage = { ...base, kind: "process", version: item.version, tooLarge: true };
  return { body: reference, bytes: sizeOf(reference) };
}

function sizeOf(body: OutboxMessage): number {
  return jsonBytes(JSON.stringify(body)) + MESSAGE_OVERHEAD_BYTES;
}
