/**
 * Runs as clients see them (API.md, "Runs, progress and metrics"), and how the shares of one
 * run kept by a unit's shards make one. Each shard keeps its own share of a run (run-store.ts):
 * its counts, its fill, its rate; the route layer asks every shard and combines the parts
 * here, so a run's id, counts, rate and ETA are the unit's. Pure: no SQL, no HTTP.
 */

export type RunState = "filling" | "running" | "done" | "cancelled" | "replaced";
export type RunTrigger = "api" | "schedule";

/** What a run is, as the API answers it. */
export interface Run {
  id: string;
  scope: string;
  prefix: string | null;
  /** ISO time */
  since: string | null;
  trigger: RunTrigger;
  state: RunState;
  total: number;
  processed: number;
  failed: number;
  startedAt: string;
  finishedAt: string | null;
  itemsPerSecond: number;
  etaSeconds: number | null;
}

/** One shard's share of a run: the run's fields, with what is left to do instead of an ETA. */
export interface RunPart extends Omit<Run, "etaSeconds"> {
  /** its items pending or assigned */
  open: number;
  /** keys its fill has still to queue */
  unfilled: number;
}

const FINISHED: ReadonlySet<RunState> = new Set(["done", "cancelled", "replaced"]);

/**
 * Seconds until `left` items are done at `itemsPerSecond`; null when nothing moves (idle,
 * or no completion yet) or nothing is left.
 * @example etaSeconds(1200, 100) // 12
 */
export function etaSeconds(left: number, itemsPerSecond: number): number | null {
  if (left <= 0 || !(itemsPerSecond > 0)) return null;
  return Math.ceil(left / itemsPerSecond);
}

/**
 * One run from its parts (one per shard that holds a share of it): counts and rates summed,
 * the earliest start, the state of the whole (a cancel or a replacement recorded on any
 * shard is the run's; else filling while any shard fills, running while any runs, done
 * when all are), the latest finish once every part has finished, and the ETA of the sums.
 * @example combineRuns([partOfShard0, partOfShard1]).total // the sum of both totals
 */
export function combineRuns(parts: RunPart[]): Run {
  const [first] = parts;
  if (!first) throw new Error("combineRuns needs at least one part");
  const sum = (field: "total" | "processed" | "failed" | "open" | "unfilled" | "itemsPerSecond") =>
    parts.reduce((total, part) => total + part[field], 0);
  const states = new Set(parts.map((part) => part.state));
  const state: RunState = (["cancelled", "replaced", "filling", "running"] as const).find((s) => states.has(s)) ?? "done";
  const finished = parts.every((part) => FINISHED.has(part.state) && part.finishedAt !== null);
  const itemsPerSecond = round(sum("itemsPerSecond"));
  return {
    id: first.id,
    scope: first.scope,
    prefix: first.prefix,
    since: first.since,
    trigger: first.trigger,
    state,
    total: sum("total"),
    processed: sum("processed"),
    failed: sum("failed"),
    // ISO times of one format sort as text
    startedAt: parts.map((part) => part.startedAt).sort()[0]!,
    finishedAt: finished ? parts.map((part) => part.finishedAt!).sort()[parts.length - 1]! : null,
    itemsPerSecond,
    etaSeconds: FINISHED.has(state) ? null : etaSeconds(sum("open") + sum("unfilled"), itemsPerSecond),
  };
}

/**
 * The runs of a unit from every shard's list: parts grouped by run id and combined, newest
 * first, at most `limit`.
 */
export function combineRunLists(lists: RunPart[][], limit: number): Run[] {
  const byId = new Map<string, RunPart[]>();
  for (const part of lists.flat()) byId.set(part.id, [...(byId.get(part.id) ?? []), part]);
  return [...byId.values()]
    .map(combineRuns)
    .sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0))
    .slice(0, limit);
}

/** Rates to two decimals: enough for a rate, and stable in a JSON answer. */
export function round(value: number): number {
  return Math.round(value * 100) / 100;
}
