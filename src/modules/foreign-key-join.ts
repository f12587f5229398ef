import { z } from "@hono/zod-openapi";
import { contentTooLarge, jsonBytes, LIMITS } from "../limits";
import { ScopeName } from "../schemas";
import { FieldPath, getPath, setPath } from "./paths";
import { defineModule, type Document, type PipelineItem } from "./types";

/** Keys one document may reference through one join: as many as one fetchMultiple returns. */
const MAX_KEYS = LIMITS.fetchMultipleKeys;
/** Keys batchStart reads for a whole batch at most; an item whose keys are not among them reads its own. */
const PREFETCH_KEYS = 20_000;
/** Bytes (as JSON) batchStart reads for a whole batch at most: a batch of large records never holds them all at once. */
const PREFETCH_BYTES = 8 * 1024 * 1024;

/**
 * Embeds the content of the records whose keys are in `field` (a key, or an array of keys)
 * from `scope`, at `as`: a single key gives that content, or null when the record has no
 * such scope; an array gives the contents found, in order, missing ones left out.
 *
 * Automatic updates: the join records what each item references, so when a referenced
 * record is written or deleted (with content processing on) the items that reference it
 * are queued again, whether or not the referenced scope has a pipeline of its own. Keys
 * that do not exist yet are recorded too: the referrer is updated when they appear.
 *
 * The document with the joined contents must stay within the content limit (1 MiB as
 * JSON); past it the item fails.
 *
 * @example {"module":"ForeignKeyJoin","settings":{"field":"authorId","scope":"raw","as":"author"}}
 */
export const ForeignKeyJoin = defineModule({
  name: "ForeignKeyJoin",
  description:
    "Embeds the content of the record(s) whose key(s) are in `field`, from `scope`, at `as`; referrers are queued again when a referenced record changes.",
  settings: z.object({ field: FieldPath, scope: ScopeName, as: FieldPath }).strict(),
  create: ({ settings, unit }) => {
    /** what batchStart recorded and read for the batch: each item's keys then, and the contents of those keys */
    const recorded = new Map<PipelineItem, { keys: string[]; refusal: string | undefined }>();
    /** what batchStart read: a record's content and its size as JSON, undefined where it has no such scope */
    const prefetched = new Map<string, { content: Document; bytes: number } | undefined>();
    /** Records what the item references now; a refusal (the key moved away in a split) belongs to the item, not the batch. */
    const record = (item: PipelineItem, keys: string[]) => {
      const [refusal] = unit.referencesMany(settings.scope, settings.field, [{ item, keys }]);
      recorded.set(item, { keys, refusal });
    };
    return {
      /**
       * Records every item's references (one write for the batch), then reads the batch's referenced records in one
       * call (one per shard concerned) rather than one per item. References first, as an
       * item's own read does: a referenced record written after this read queues the item again.
       */
      async batchStart(items) {
        recorded.clear();
        prefetched.clear();
        const wanted = new Set<string>();
        const entries: Array<{ item: PipelineItem; keys: string[] }> = [];
        for (const item of items) {
          const keys = item.document ? keysOf(getPath(item.document, settings.field)) : [];
          if (typeof keys === "string") continue;
          entries.push({ item, keys });
          if (wanted.size + keys.length <= PREFETCH_KEYS) for (const key of keys) wanted.add(key);
        }
        const refusals = unit.referencesMany(settings.scope, settings.field, entries);
        for (const [i, { item, keys }] of entries.entries()) recorded.set(item, { keys, refusal: refusals[i] });
        if (wanted.size === 0) return;
        const keys = [...wanted];
        // past the bound the read stops: the keys not read are read by their items
        const { contents } = await unit.readMany(keys, settings.scope, { maxBytes: PREFETCH_BYTES });
        for (const [i, content] of contents.entries()) {
          prefetched.set(keys[i]!, content === undefined ? undefined : { content, bytes: jsonBytes(JSON.stringify(content)) });
        }
      },
      async process(item) {
        const value = item.document ? getPath(item.document, settings.field) : undefined;
        const keys = keysOf(value);
        if (typeof keys === "string") return item.fail(`ForeignKeyJoin: field '${settings.field}' ${keys}`);
        // a module earlier in the pipeline may have changed the field since batchStart
        const before = recorded.get(item);
        if (!before || !sameKeys(before.keys, keys)) record(item, keys);
        const now = recorded.get(item)!;
        if (now.refusal !== undefined) throw new Error(now.refusal);
        if (!item.document || value === undefined || value === null) return;
        const tooLarge = (problem: string) =>
          item.fail(`ForeignKeyJoin: embedding '${settings.field}' at '${settings.as}': ${problem}; join fewer or smaller records`);
        const own = jsonBytes(JSON.stringify(item.document));
        let contents: Array<Document | undefined>;
        if (keys.every((key) => prefetched.has(key))) {
          const found = keys.map((key) => prefetched.get(key));
          const bytes = found.reduce((sum, record) => sum + (record?.bytes ?? 0), 0);
          if (own + bytes > LIMITS.contentBytes) return tooLarge(atLeast(own + bytes));
          // each item gets its own copy: a later module may change what it embeds
          contents = found.map((record) => (record === undefined ? undefined : structuredClone(record.content)));
        } else {
          // reading stops once past the limit: a thousand large records must never be held at once
          const read = await unit.readMany(keys, settings.scope, { maxBytes: LIMITS.contentBytes - own });
          if (own + read.bytes > LIMITS.contentBytes) return tooLarge(atLeast(own + read.bytes));
          contents = read.contents;
        }
        const embedded: Document | Document[] | null = Array.isArray(value)
          ? contents.filter((content) => content !== undefined)
          : (contents[0] ?? null);
        setPath(item.document, settings.as, embedded);
        const problem = contentTooLarge(JSON.stringify(item.document));
        if (problem) tooLarge(problem);
      },
      batchEnd() {
        recorded.clear();
        prefetched.clear();
      },
    };
  },
});

function atLeast(bytes: number): string {
  return `content is at least ${bytes} bytes as JSON; a scope holds at most ${LIMITS.contentBytes} bytes (1 MiB)`;
}

function sameKeys(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((key, i) => key === b[i]);
}

/** The keys a field holds (strings, or numbers used as ids), or what is wrong with it. */
function keysOf(value: unknown): string[] | string {
  if (value === undefined || value === null) return [];
  const values = Array.isArray(value) ? value : [value];
  if (values.length > MAX_KEYS) return `holds ${values.length} keys; at most ${MAX_KEYS} can be joined`;
  const keys: string[] = [];
  for (const element of values) {
    if (typeof element === "string" && element.length > 0) keys.push(element);
    else if (typeof element === "number" && Number.isFinite(element)) keys.push(String(element));
    else return `holds ${JSON.stringify(element)?.slice(0, 100)}; expected a key (a non-empty string or a number) or an array of keys`;
  }
  return keys;
}
