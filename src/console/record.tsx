/** A record by key: every scope's content, version and time of write, and "reprocess this key" per scope. */
import { useState } from "hono/jsx/dom";
import { ApiFailure, path } from "./api";
import { time } from "./format";
import { usePolled } from "./hooks";
import { act, useSession } from "./session";
import type { StoredRecord } from "./types";
import type { UnitView } from "./unit-page";

/** The record `key` of `unit`, or null when it has none (404 KEY_NOT_FOUND). */
export function useRecord(unit: string, key: string): { record: StoredRecord | null | undefined; error: string | undefined } {
  const session = useSession();
  const { data, error } = usePolled(
    () =>
      session.api.call<StoredRecord>("GET", path("access", "fetch", unit, key)).catch((error: unknown) => {
        if (error instanceof ApiFailure && error.code === "KEY_NOT_FOUND") return null;
        throw error;
      }),
    30_000,
    [unit, key],
  );
  return { record: data, error };
}

export function RecordView(props: { unit: UnitView; recordKey: string; highlight?: string }) {
  const session = useSession();
  const { record, error } = useRecord(props.unit.name, props.recordKey);
  if (record === undefined) return <p class={error ? "error-text" : "muted"}>{error ?? `Reading ${props.recordKey}…`}</p>;
  if (record === null) return <p>No record “{props.recordKey}” in this unit (deleted, or never written).</p>;
  const reprocess = props.unit.write && props.unit.status.enabled;
  return (
    <div class="record" data-key={record.key}>
      {Object.entries(record.content).map(([scope, content]) => {
        const meta = record.meta[scope];
        return (
          <div class={`scope${scope === props.highlight ? " highlight" : ""}`} data-scope={scope}>
            <div class="scope-head">
              <strong>{scope}</strong>
              {meta ? (
                <span class="muted">
                  version {meta.version} · written {time(meta.updatedAt)}
                </span>
              ) : null}
              {reprocess ? (
                <button
                  type="button"
                  aria-label={`Reprocess ${record.key} in ${scope}`}
                  onClick={() =>
                    act(session, "Reprocess", null, async () => {
                      await session.api.call("POST", path("reprocess", "key", props.unit.name, record.key, scope));
                      return `${record.key} (${scope}) queued for reprocessing`;
                    })
                  }
                >
                  Reprocess this key
                </button>
              ) : null}
            </div>
            <pre class="content">{JSON.stringify(content, null, 2)}</pre>
          </div>
        );
      })}
    </div>
  );
}

export function RecordSearch(props: { unit: UnitView; opened?: { key: string } }) {
  const [key, setKey] = useState(props.opened?.key ?? "");
  return (
    <section class="panel record-search" aria-labelledby="record-title">
      <h3 id="record-title">Record</h3>
      <form
        class="inline"
        onSubmit={(event: Event) => {
          event.preventDefault();
          setKey(String(new FormData(event.target as HTMLFormElement).get("key") ?? "").trim());
        }}
      >
        <input name="key" placeholder="a key, as written" aria-label="Key to open" autocomplete="off" value={key} />
        <button type="submit">Open</button>
      </form>
      {key ? <RecordView unit={props.unit} recordKey={key} /> : null}
    </section>
  );
}
