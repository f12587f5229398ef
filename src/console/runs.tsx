/** A unit's runs (reprocess/all): state, progress, rate, ETA and Cancel, and a form to start one. */
import { useState } from "hono/jsx/dom";
import { ApiFailure, path } from "./api";
import { count, duration, percent, rate, time } from "./format";
import { usePolled } from "./hooks";
import { act, describe, useSession } from "./session";
import type { Run } from "./types";
import type { UnitView } from "./unit-page";

const POLL_MS = 2_000;
const SHOWN = 10;

function reach(run: Run): string {
  const parts = [run.prefix === null ? "every key" : `keys starting “${run.prefix}”`];
  if (run.since !== null) parts.push(`written since ${time(run.since)}`);
  return parts.join(", ");
}

export function Runs(props: { unit: UnitView }) {
  const session = useSession();
  const { name, status, write } = props.unit;
  const { data, error } = usePolled(
    () => session.api.call<{ runs: Run[] }>("GET", `${path("reprocess", "runs", name)}?limit=${SHOWN}`).then((answer) => answer.runs),
    POLL_MS,
    [name],
  );
  return (
    <section class="panel runs" aria-labelledby="runs-title">
      <h3 id="runs-title">Runs</h3>
      {write && status.enabled ? <StartRun unit={props.unit} /> : null}
      {error ? <p class="error-text">{error}</p> : null}
      {data && data.length === 0 ? <p class="muted">No runs yet.</p> : null}
      <ul class="run-list">
        {(data ?? []).map((run) => (
          <RunRow unit={name} run={run} cancel={write} />
        ))}
      </ul>
    </section>
  );
}

function RunRow(props: { unit: string; run: Run; cancel: boolean }) {
  const session = useSession();
  const { run } = props;
  const open = run.state === "filling" || run.state === "running";
  const done = run.processed + run.failed;
  return (
    <li data-run={run.id} class={`run ${run.state}`}>
      <div class="run-head">
        <strong>{run.scope}</strong> <span class="muted">{reach(run)}</span>
        <span class={`badge state ${open ? "info" : run.state === "done" ? "calm" : "warn"}`}>{run.state}</span>
      </div>
      <div class="run-meta muted">
        started by {run.trigger === "schedule" ? "a schedule" : "the API"} at {time(run.startedAt)}
        {run.finishedAt ? `, ended ${time(run.finishedAt)}` : ""} · <code>{run.id}</code>
      </div>
      <div class="run-progress">
        <progress max={Math.max(run.total, 1)} value={done} aria-label={`progress of run ${run.id}`} />
        <span class="share">{percent(done, run.total)}</span>
      </div>
      <div class="run-figures">
        <span>
          this run: {count(run.processed)} processed, {count(run.failed)} failed of {count(run.total)}
        </span>
        {open ? (
          <span>
            {rate(run.itemsPerSecond)} · ETA {duration(run.etaSeconds)}
          </span>
        ) : null}
        {open && props.cancel ? (
          <button
            type="button"
            aria-label={`Cancel run ${run.id} of ${props.unit}`}
            onClick={() =>
              act(session, "Cancel", `Cancel this run of ${run.scope}? Its pending items are dropped; running batches finish.`, async () => {
                const { dropped } = await session.api.call<{ dropped: number }>("POST", path("reprocess", "cancel", props.unit, run.id));
                return `Run ${run.id} cancelled: ${count(dropped)} items dropped`;
              })
            }
          >
            Cancel
          </button>
        ) : null}
      </div>
    </li>
  );
}

/** `2026-12-03T10:00` from a datetime-local input, read as UTC (the console's one time zone). */
const utc = (local: string) => (local ? `${local}:00Z` : "");

function StartRun(props: { unit: UnitView }) {
  const session = useSession();
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    const scope = String(form.get("scope") ?? "").trim();
    const query = new URLSearchParams();
    const prefix = String(form.get("prefix") ?? "");
    if (prefix) query.set("prefix", prefix);
    const since = utc(String(form.get("since") ?? ""));
    if (since) query.set("since", since);
    setProblem(undefined);
    try {
      const { queued, runId } = await session.api.call<{ queued: number; runId: string }>(
        "POST",
        `${path("reprocess", "all", props.unit.name, scope)}${query.size ? `?${query}` : ""}`,
      );
      session.notices.confirm(`Run ${runId} of ${scope} started: ${count(queued)} keys to process`);
      session.refresh();
    } catch (error) {
      setProblem(describe(error));
      if (error instanceof ApiFailure && error.status === 403) session.refresh();
    }
  };
  return (
    <form class="start-run" onSubmit={submit} aria-label={`Start a run of ${props.unit.name}`}>
      <label>
        Scope <input name="scope" required placeholder="raw" autocomplete="off" />
      </label>
      <label>
        Key prefix <input name="prefix" placeholder="optional" autocomplete="off" />
      </label>
      <label>
        Written since (UTC) <input name="since" type="datetime-local" />
      </label>
      <button type="submit">Start run</button>
      {problem ? (
        <p class="error-text" role="alert">
          {problem}
        </p>
      ) : null}
    </form>
  );
}
