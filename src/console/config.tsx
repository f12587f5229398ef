/**
 * A unit's configuration, for the admin: pipeline per scope, reprocessing settings and
 * schedules, each shown and editable, saved through the admin routes; what the API refuses
 * is shown beside the form with its code and detail.
 */
import { useState } from "hono/jsx/dom";
import { path } from "./api";
import { relative, time } from "./format";
import { usePolled } from "./hooks";
import { describe, useSession } from "./session";
import type { ModulesConfig, Schedule, Settings } from "./types";
import type { UnitView } from "./unit-page";

const POLL_MS = 30_000;
const SETTINGS: Array<[keyof Settings, string]> = [
  ["batchSize", "items a batch claims"],
  ["workers", "batches at once"],
  ["concurrency", "items of a batch at once"],
  ["maxItemsPerSecond", "throttle, items/s (empty: none)"],
  ["maxAttempts", "attempts before failed"],
  ["leaseMs", "lease, ms"],
  ["backoffMs", "first retry delay, ms"],
  ["maxBackoffMs", "retry delay cap, ms"],
];

/** A form that saves with `save` and shows what it answered: the API's refusal stays until the next try. */
function useSave(): [string | undefined, (what: string, save: () => Promise<unknown>) => Promise<void>] {
  const session = useSession();
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const run = async (what: string, save: () => Promise<unknown>) => {
    setProblem(undefined);
    try {
      await save();
      session.notices.confirm(`${what} saved`);
      session.refresh();
    } catch (error) {
      setProblem(describe(error));
    }
  };
  return [problem, run];
}

function Problem(props: { text: string | undefined }) {
  return props.text ? (
    <p class="error-text" role="alert">
      {props.text}
    </p>
  ) : null;
}

export function Config(props: { unit: UnitView }) {
  return (
    <section class="panel config" aria-labelledby="config-title">
      <h3 id="config-title">Configuration</h3>
      <div class="config-grid">
        <Pipelines unit={props.unit.name} />
        <SettingsForm unit={props.unit} />
        <Schedules unit={props.unit.name} />
      </div>
    </section>
  );
}

function Pipelines(props: { unit: string }) {
  const session = useSession();
  const { data } = usePolled(() => session.api.call<ModulesConfig>("GET", path("admin", "getContentProcessingModules", props.unit)), POLL_MS, [
    props.unit,
  ]);
  const [problem, save] = useSave();
  if (!data) return <p class="muted">Reading the pipelines…</p>;
  const text = JSON.stringify({ modules: data.modules, settings: data.settings ?? {} }, null, 2);
  return (
    <div class="pipelines">
      <h4>Pipeline per scope</h4>
      {Object.keys(data.modules).length === 0 ? <p class="muted">No scope has a pipeline.</p> : null}
      <ul class="plain">
        {Object.entries(data.modules).map(([scope, modules]) => (
          <li>
            <strong>{scope}</strong>:{" "}
            {modules.length === 0 ? <span class="muted">empty pipeline</span> : modules.map((module) => module.module).join(" → ")}
          </li>
        ))}
      </ul>
      <details>
        <summary>Edit the pipelines (JSON)</summary>
        <form
          onSubmit={(event: Event) => {
            event.preventDefault();
            const value = String(new FormData(event.target as HTMLFormElement).get("modules") ?? "");
            void save("Pipelines", async () => {
              let body: unknown;
              try {
                body = JSON.parse(value);
              } catch (error) {
                throw new Error(`not JSON: ${(error as Error).message}`);
              }
              return session.api.call("POST", path("admin", "setContentProcessingModules", props.unit), body);
            });
          }}
        >
          <textarea name="modules" rows={10} aria-label={`Pipelines of ${props.unit}`} spellcheck={false}>
            {text}
          </textarea>
          <button type="submit">Save pipelines</button>
          <Problem text={problem} />
        </form>
      </details>
    </div>
  );
}

function SettingsForm(props: { unit: UnitView }) {
  const session = useSession();
  const [problem, save] = useSave();
  const settings = props.unit.info?.settings;
  if (!settings) return null;
  return (
    <form
      class="settings"
      aria-label={`Reprocessing settings of ${props.unit.name}`}
      onSubmit={(event: Event) => {
        event.preventDefault();
        const form = new FormData(event.target as HTMLFormElement);
        const patch: Record<string, number | null> = {};
        for (const [name] of SETTINGS) {
          const value = String(form.get(name) ?? "").trim();
          const number = value === "" ? null : Number(value);
          if (number !== settings[name]) patch[name] = number;
        }
        void save("Settings", () => session.api.call("PUT", path("admin", "setReprocessingSettings", props.unit.name), patch));
      }}
    >
      <h4>Settings</h4>
      <div class="fields">
        {SETTINGS.map(([name, hint]) => (
          <label>
            <span>
              {name} <span class="muted">{hint}</span>
            </span>
            <input name={name} inputmode="numeric" value={settings[name] === null ? "" : String(settings[name])} autocomplete="off" />
          </label>
        ))}
      </div>
      <button type="submit">Save settings</button>
      <Problem text={problem} />
    </form>
  );
}

function Schedules(props: { unit: string }) {
  const session = useSession();
  const { data } = usePolled(
    () => session.api.call<{ schedules: Schedule[] }>("GET", path("admin", "getReprocessSchedule", props.unit)).then((answer) => answer.schedules),
    POLL_MS,
    [props.unit],
  );
  const [problem, save] = useSave();
  if (!data) return <p class="muted">Reading the schedules…</p>;
  const text = JSON.stringify(
    data.map(({ scope, cron }) => ({ scope, cron })),
    null,
    2,
  );
  return (
    <div class="schedules">
      <h4>Schedules</h4>
      {data.length === 0 ? <p class="muted">No schedules: runs start only when asked.</p> : null}
      <ul class="plain">
        {data.map((schedule) => (
          <li>
            <strong>{schedule.scope}</strong> <code>{schedule.cron}</code> (UTC): next run{" "}
            {schedule.nextRunAt ? `${relative(schedule.nextRunAt)}, ${time(schedule.nextRunAt)}` : "—"}
          </li>
        ))}
      </ul>
      <details>
        <summary>Edit the schedules (JSON)</summary>
        <form
          onSubmit={(event: Event) => {
            event.preventDefault();
            const value = String(new FormData(event.target as HTMLFormElement).get("schedules") ?? "");
            void save("Schedules", async () => {
              let schedules: unknown;
              try {
                schedules = JSON.parse(value);
              } catch (error) {
                throw new Error(`not JSON: ${(error as Error).message}`);
              }
              return session.api.call("PUT", path("admin", "setReprocessSchedule", props.unit), { schedules });
            });
          }}
        >
          <textarea name="schedules" rows={6} aria-label={`Schedules of ${props.unit}`} spellcheck={false}>
            {text}
          </textarea>
          <button type="submit">Save schedules</button>
          <Problem text={problem} />
        </form>
      </details>
    </div>
  );
}
