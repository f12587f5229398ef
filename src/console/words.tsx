/**
 * What a unit is doing, in the words the console uses everywhere: the overview's states,
 * the unit page's badges and the rate, said the same way.
 */
import { count, rate } from "./format";
import type { HistoryPoint, Settings, Status, UnitInfo } from "./types";

/** the minutes of history a unit's recent state is judged on */
const RECENT_MINUTES = 5;

/** Every item that finished lately failed: a rate would mislead. */
export function failing(history: HistoryPoint[] | undefined): boolean {
  const recent = (history ?? []).slice(-RECENT_MINUTES);
  return recent.some((point) => point.failed > 0) && recent.every((point) => point.processed === 0);
}

const hasWork = (status: Status) => status.pending + status.assigned + status.fillRemaining > 0;

/** Throttled: a limit is set and there is work the limit holds back. */
export function throttled(status: Status, settings: Settings | undefined): boolean {
  return settings?.maxItemsPerSecond != null && hasWork(status) && !status.paused;
}

export interface State {
  word: string;
  /** a class of app.css: its colour */
  tone: "warn" | "bad" | "info" | "calm";
  title: string;
}

export function states(status: Status, settings: Settings | undefined, history: HistoryPoint[] | undefined): State[] {
  const list: State[] = [];
  if (status.splitting)
    list.push({
      word: "splitting",
      tone: "info",
      title: `splitting from ${status.splitting.from} to ${status.splitting.to} shards; writes, reads and runs go on meanwhile`,
    });
  if (!status.enabled) list.push({ word: "queue disabled", tone: "calm", title: "the reprocess routes are refused; writes still run the pipelines" });
  if (status.paused) list.push({ word: "paused", tone: "warn", title: "the job holds: items wait in the queue" });
  if (throttled(status, settings))
    list.push({ word: "throttled", tone: "warn", title: `held to ${settings?.maxItemsPerSecond} items/s by maxItemsPerSecond` });
  if (failing(history)) list.push({ word: "failing", tone: "bad", title: `every item of the last ${RECENT_MINUTES} minutes failed` });
  if (status.filling) list.push({ word: "filling", tone: "info", title: `a reprocess/all is still queueing keys (${status.fillRemaining} left)` });
  if (list.length === 0)
    list.push(
      hasWork(status)
        ? { word: "working", tone: "info", title: "the job is taking up the queue" }
        : { word: "idle", tone: "calm", title: "nothing queued" },
    );
  return list;
}

/** "8", or "1 → 8" while a split runs. */
export const shardCount = (info: UnitInfo) => (info.splitting ? `${count(info.splitting.from)} → ${count(info.splitting.to)}` : count(info.shards));

/** The unit's rate, or why there is none. */
export function unitRate(status: Status, history: HistoryPoint[] | undefined): string {
  if (failing(history)) return "none: every item fails";
  return rate(status.itemsPerSecond);
}

export function StateBadges(props: { list: State[] }) {
  return (
    <span class="badges">
      {props.list.map((state) => (
        <span class={`badge ${state.tone}`} title={state.title}>
          {state.word}
        </span>
      ))}
    </span>
  );
}
