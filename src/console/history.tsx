/** A unit's throughput and backlog over 15 min, 1 h or 24 h, from GET /reprocess/history. */
import { useState } from "hono/jsx/dom";
import { path } from "./api";
import { HistoryCharts } from "./chart";
import { usePolled } from "./hooks";
import { useSession } from "./session";
import type { HistoryPoint } from "./types";

const RANGES = [
  { label: "15 min", minutes: 15 },
  { label: "1 h", minutes: 60 },
  { label: "24 h", minutes: 1440 },
];
const POLL_MS = 15_000;

export function HistoryView(props: { unit: string }) {
  const session = useSession();
  const [minutes, setMinutes] = useState(60);
  const { data, error } = usePolled(
    () =>
      session.api
        .call<{ points: HistoryPoint[] }>("GET", `${path("reprocess", "history", props.unit)}?minutes=${minutes}`)
        .then((answer) => answer.points),
    POLL_MS,
    [props.unit, minutes],
  );
  return (
    <section class="panel history" aria-labelledby="history-title">
      <div class="toolbar">
        <h3 id="history-title">History</h3>
        <fieldset class="segmented">
          <legend class="hidden">Time range</legend>
          {RANGES.map((range) => (
            <button type="button" aria-pressed={range.minutes === minutes ? "true" : "false"} onClick={() => setMinutes(range.minutes)}>
              {range.label}
            </button>
          ))}
        </fieldset>
      </div>
      {data ? <HistoryCharts points={data} /> : <p class={error ? "error-text" : "muted"}>{error ?? "Reading the history…"}</p>}
    </section>
  );
}
