/**
 * Running one batch through a scope's pipeline: BatchStart, then Process for each item
 * through the modules in order (`concurrency` items at once), then BatchEnd. No storage
 * here: the job gives the items (with their stored content) and records the outcome.
 *
 * Invariants: an item that failed goes through no later module; an event that throws
 * rejects the whole run (the job fails every item of the batch). Before each module call a
 * lane waits for the job's {@link YieldBudget}, so a batch of heavy synchronous items never
 * runs as one block, and after a yield only one lane's call runs before the next.
 */
import { ITEM_BYTES, type YieldBudget } from "../yield-budget";
import type { Document, ModuleInstance, PipelineItem } from "./types";

/** An item as the queue hands it over: its stored content (null: the scope was deleted) and version. */
export interface StoredItem {
  key: string;
  hops: number;
  content?: string | null;
  version?: number | null;
}

/** One item on its way through the pipeline; its document is parsed only if a module reads it. */
export class Item implements PipelineItem {
  readonly key: string;
  readonly kind: "process" | "delete";
  readonly version: number | null;
  readonly hops: number;
  private content: string | null;
  private parsed: Document | null | undefined;
  private reason: string | undefined;

  constructor(
    readonly scope: string,
    stored: StoredItem,
  ) {
    this.key = stored.key;
    this.content = stored.content ?? null;
    this.kind = this.content === null ? "delete" : "process";
    this.version = this.content === null ? null : (stored.version ?? null);
    this.hops = stored.hops;
  }

  get document(): Document | null {
    if (this.parsed === undefined) this.parsed = this.content === null ? null : JSON.parse(this.content);
    return this.parsed!;
  }

  set document(value: Document | null) {
    this.parsed = value;
    this.content = null;
  }

  get failure(): string | undefined {
    return this.reason;
  }

  fail(reason: string): void {
    this.reason ??= reason;
  }
}

/**
 * Runs `items` through `pipeline`; rejects with the first error an event threw. Each item's
 * own failure is on the item (`failure`).
 * @example await runPipeline(createPipeline(config, "raw", context), items, 4, new YieldBudget());
 */
export async function runPipeline(pipeline: ModuleInstance[], items: PipelineItem[], concurrency: number, budget: YieldBudget): Promise<void> {
  for (const module of pipeline) await module.batchStart?.(items);
  let next = 0;
  const timed = budget.timed;
  const lane = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      for (const module of pipeline) {
        if (item.failure !== undefined) break;
        // before each module, not only each item: a join and a write of a megabyte each are blocks enough
        if (timed) for (let wait = budget.ready(); wait; wait = budget.ready()) await wait;
        const pending = module.process(item);
        // a module that answers at once costs no turn of the microtask queue
        if (pending) await pending;
      }
      budget.count(ITEM_BYTES);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  for (const module of pipeline) await module.batchEnd?.(items);
}

/** An error as an item's `lastError` shows it. */
export function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
