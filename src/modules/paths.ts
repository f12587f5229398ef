/**
 * Dotted paths into a document (`author.name`), shared by the modules that address fields.
 * A path walks plain objects only: an array or a scalar on the way means "not there".
 * Every step reads own properties only, so `constructor` or `toString` name a document's
 * own fields (missing unless the document has them) and writing one creates it on the
 * document; `__proto__`, which an assignment would take for the prototype, is refused by
 * the schema. No path can reach or change `Object.prototype`.
 */
import { z } from "@hono/zod-openapi";
import type { Document } from "./types";

/** A dotted path: non-empty segments separated by `.`, none of them `__proto__`. */
export const FieldPath = z
  .string()
  .min(1, "a field path must not be empty")
  .max(1000)
  .refine(
    (path) => path.split(".").every((segment) => segment.length > 0),
    "a field path has non-empty segments separated by '.', as in 'author.name'",
  )
  .refine((path) => path.split(".").every((segment) => segment !== "__proto__"), "a field path must not use '__proto__'");

function isPlainObject(value: unknown): value is Document {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A dotted path as text, or split into its segments already ({@link segmentsOf}): a module
 * that applies the same paths to every document of a batch splits them once.
 */
export type Path = string | readonly string[];

export function segmentsOf(path: string): readonly string[] {
  return path.split(".");
}

/** The parent object of the path's last segment, creating missing objects when `create` is set. */
function parentOf(document: Document, path: Path, create: boolean): { parent: Document; last: string } | undefined {
  const segments = typeof path === "string" ? segmentsOf(path) : path;
  const last = segments[segments.length - 1]!;
  let parent = document;
  for (let index = 0; index < segments.length - 1; index++) {
    const segment = segments[index]!;
    let next = Object.hasOwn(parent, segment) ? parent[segment] : undefined;
    if (!isPlainObject(next)) {
      if (!create) return undefined;
      next = {};
      parent[segment] = next;
    }
    parent = next as Document;
  }
  return { parent, last };
}

/** Whether the path leads to a value (null counts as a value). */
export function hasPath(document: Document, path: Path): boolean {
  const found = parentOf(document, path, false);
  return found !== undefined && Object.hasOwn(found.parent, found.last);
}

/** The value at the path, or undefined when it is not there. */
export function getPath(document: Document, path: Path): unknown {
  const found = parentOf(document, path, false);
  return found && Object.hasOwn(found.parent, found.last) ? found.parent[found.last] : undefined;
}

/** Sets the value at the path; missing (or non-object) parents along the way become objects. */
export function setPath(document: Document, path: Path, value: unknown): void {
  const { parent, last } = parentOf(document, path, true)!;
  parent[last] = value;
}

/** Removes the value at the path; returns whether there was one. */
export function deletePath(document: Document, path: Path): boolean {
  const found = parentOf(document, path, false);
  if (!found || !Object.hasOwn(found.parent, found.last)) return false;
  delete found.parent[found.last];
  return true;
}
