import { z } from "@hono/zod-openapi";
import { contentTooLarge, jsonBytes, LIMITS } from "../limits";
import { ScopeName } from "../schemas";
import { FieldPath, getPath, setPath } from "./paths";
import { defineModule, type Document } from "./types";

/** Keys one document may reference through one join: as many as one fetchMultiple returns. */
const MAX_KEYS = LIMITS.fetchMultipleKeys;

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
  create: ({ settings, unit }) => ({
    async process(item) {
      if (!item.document) {
        // the referrer is gone: it no longer needs updates
        unit.references(item, settings.scope, [], settings.field);
        return;
      }
      const value = getPath(item.document, settings.field);
      const keys = keysOf(value);
      if (typeof keys === "string") return item.fail(`ForeignKeyJoin: field '${settings.field}' ${keys}`);
      unit.references(item, settings.scope, keys, settings.field);
      if (value === undefined || value === null) return;
      const tooLarge = (problem: string) =>
        item.fail(`ForeignKeyJoin: embedding '${settings.field}' at '${settings.as}': ${problem}; join fewer or smaller records`);
      const own = jsonBytes(JSON.stringify(item.document));
      // reading stops once past the limit: a thousand large records must never be held at once
      const { contents, bytes } = await unit.readMany(keys, settings.scope, { maxBytes: LIMITS.contentBytes - own });
      if (own + bytes > LIMITS.contentBytes)
        return tooLarge(`content is at least ${own + bytes} bytes as JSON; a scope holds at most ${LIMITS.contentBytes} bytes (1 MiB)`);
      const embedded: Document | Document[] | null = Array.isArray(value)
        ? contents.filter((content) => content !== undefined)
        : (contents[0] ?? null);
      setPath(item.document, settings.as, embedded);
      const problem = contentTooLarge(JSON.stringify(item.document));
      if (problem) tooLarge(problem);
    },
  }),
});

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
