/**
 * The processing-module interface. A module is registered by name with a zod schema for
 * its settings; for each batch the job creates one instance per module of the scope's
 * pipeline and calls its events (the STageR events): `batchStart`, `process` for each
 * item in pipeline order, `batchEnd`. Modules see documents, never SQL or HTTP routing.
 *
 * Failure: `item.fail(reason)` fails one item (it alone retries); throwing from any event
 * fails the whole batch (every item retries).
 */
import type { z } from "@hono/zod-openapi";

export type Document = Record<string, unknown>;

export interface PipelineItem {
  readonly key: string;
  /** the scope whose pipeline is running */
  readonly scope: string;
  /** `delete` when the scope no longer exists: publishers remove the document */
  readonly kind: "process" | "delete";
  /** the document as the modules before this one left it; null for a delete */
  document: Document | null;
  /** the stored version of the scope; null for a delete */
  readonly version: number | null;
  /** how many scope writes led to this item (a chain is cut after a limit) */
  readonly hops: number;
  /** marks this item failed with a reason; later modules skip it */
  fail(reason: string): void;
  readonly failure: string | undefined;
}

/** What a module may do to its unit, besides changing the document in hand. */
export interface UnitAccess {
  /**
   * The contents of `scope` of many records of the unit, in the order of `keys`: undefined
   * where a record has no such scope. Reading stops once the contents read pass `maxBytes`
   * (UTF-8 bytes as JSON; default: no bound): `bytes` is then more than `maxBytes`, and
   * `contents` ends at the record that passed it. Records are read a chunk at a time, and the
   * job's other work (and other requests) may run between two chunks.
   *
   * Reads are async, though SQL is not: once a unit spans several objects, a read of
   * another record may cross to another object, and modules written against this interface
   * need no change then.
   * @example const { contents } = await unit.readMany(["a1", "a2"], "authors");
   */
  readMany(keys: string[], scope: string, options?: { maxBytes?: number }): Promise<{ contents: Array<Document | undefined>; bytes: number }>;
  /** The content of `scope` of one record; undefined when missing. {@link readMany} of one key. */
  read(key: string, scope: string): Promise<Document | undefined>;
  /**
   * Writes a scope of the item's record (version = now), or deletes it when `content` is
   * null; with content processing on, that scope's pipeline is queued, except the item's
   * own scope (a pipeline never queues itself). Returns an error text when the write was
   * refused: too large, a chain of scope writes past the hop limit, a newer version
   * already stored (a client's explicit version), or the unit deleted since the batch began.
   */
  write(item: PipelineItem, scope: string, content: Document | null): string | undefined;
  /**
   * Records that the item embeds these keys of `scope`, found through `via` (the field
   * they came from), replacing what it recorded through `via` before. When one of them is
   * written or deleted with content processing on, the item is queued again. Returns why
   * they were refused (the item's record moved to another shard in a split: the item runs
   * again there, nothing else of the batch is touched), or undefined once recorded.
   */
  references(item: PipelineItem, scope: string, keys: string[], via: string): string | undefined;
  /**
   * {@link references} for many items at once, in one write (what a module that works per
   * batch calls in `batchStart`). Returns, in the order of `entries`, why an item's
   * references were refused (its record moved to another shard in a split: the item runs
   * again there), or undefined where they were recorded.
   */
  referencesMany(scope: string, via: string, entries: Array<{ item: PipelineItem; keys: string[] }>): Array<string | undefined>;
}

export interface ModuleContext<S> {
  settings: S;
  /** the unit-level `settings` object of setContentProcessingModules */
  unitSettings: Record<string, unknown>;
  scope: string;
  unitName: string;
  /** the Worker's bindings and secrets (modules name the ones they need in their settings) */
  env: Record<string, unknown>;
  unit: UnitAccess;
}

export interface ModuleInstance {
  batchStart?(items: readonly PipelineItem[]): void | Promise<void>;
  process(item: PipelineItem): void | Promise<void>;
  batchEnd?(items: readonly PipelineItem[]): void | Promise<void>;
}

export interface ModuleDefinition<S = unknown> {
  name: string;
  description: string;
  settings: z.ZodType<S>;
  /** checks against the environment when a pipeline is set (a binding exists); returns what is wrong */
  checkEnvironment?(settings: S, env: Record<string, unknown>): string | undefined;
  create(context: ModuleContext<S>): ModuleInstance;
}

/** Declares a module with its settings type inferred from the schema. */
export function defineModule<S>(definition: ModuleDefinition<S>): ModuleDefinition<S> {
  return definition;
}

/**
 * The binding or secret a module's settings name, looked up as the environment's own
 * property: a name such as `constructor` or `__proto__` must not find `Object.prototype`'s.
 * @example envValue(env, settings.authSecret)
 */
export function envValue(env: Record<string, unknown>, name: string): unknown {
  return Object.hasOwn(env, name) ? env[name] : undefined;
}
