import { z } from "@hono/zod-openapi";
import { deletePath, FieldPath, getPath, hasPath, type Path, segmentsOf, setPath } from "./paths";
import { defineModule, type Document } from "./types";

const FieldMappingSettings = z
  .object({
    /** source path → destination path; the source stays */
    copy: z.record(FieldPath, FieldPath).optional(),
    /** old path → new path */
    rename: z.record(FieldPath, FieldPath).optional(),
    /** path → value written as is */
    set: z.record(FieldPath, z.unknown()).optional(),
    /** paths removed */
    drop: z.array(FieldPath).optional(),
    /** the paths kept; everything else is removed */
    only: z.array(FieldPath).optional(),
  })
  .strict();

type FieldMappingSettings = z.infer<typeof FieldMappingSettings>;

/**
 * Reshapes the document for the modules after it: `copy`, `rename`, `set`, `drop`, `only`,
 * applied in that order, each optional, with dotted paths. A missing source is skipped, so
 * one mapping serves documents that lack some fields. Delete items pass untouched.
 *
 * @example {"module":"FieldMapping","settings":{"rename":{"headline":"title"},"copy":{"author.name":"authorName"},"drop":["internal"]}}
 */
export const FieldMapping = defineModule({
  name: "FieldMapping",
  description: "Reshapes the document: copy, rename, set, drop, only (in that order; dotted paths; missing sources skipped).",
  settings: FieldMappingSettings,
  create: ({ settings }) => {
    const map = compileMapping(settings);
    return {
      process(item) {
        if (item.document) item.document = map(item.document);
      },
    };
  },
});

/** A value no other document shares: a copy of an object or array; a string, number, boolean or null is its own. */
function ownCopy<T>(value: T): T {
  return typeof value === "object" && value !== null ? structuredClone(value) : value;
}

/**
 * The mapping as a function of a document, which it changes in place (except `only`, which
 * builds a new one). Its paths are split once, not again for every document of a batch.
 */
export function compileMapping(settings: FieldMappingSettings): (document: Document) => Document {
  const pairs = (record: Record<string, string> = {}) => Object.entries(record).map(([from, to]): [Path, Path] => [segmentsOf(from), segmentsOf(to)]);
  const copy = pairs(settings.copy);
  const rename = pairs(settings.rename);
  const set = Object.entries(settings.set ?? {}).map(([path, value]): [Path, unknown] => [segmentsOf(path), value]);
  const drop = (settings.drop ?? []).map(segmentsOf);
  const only = settings.only?.map(segmentsOf);
  return (document) => {
    for (const [source, target] of copy) {
      // a copy must not share nested objects with its source, or a later change to one would show in both
      if (hasPath(document, source)) setPath(document, target, ownCopy(getPath(document, source)));
    }
    for (const [source, target] of rename) {
      if (!hasPath(document, source)) continue;
      const value = getPath(document, source);
      deletePath(document, source);
      setPath(document, target, value);
    }
    // settings are shared by every item of the batch: each document gets its own copy of a value
    for (const [path, value] of set) setPath(document, path, ownCopy(value));
    for (const path of drop) deletePath(document, path);
    if (!only) return document;
    const kept: Document = {};
    for (const path of only) if (hasPath(document, path)) setPath(kept, path, getPath(document, path));
    return kept;
  };
}
