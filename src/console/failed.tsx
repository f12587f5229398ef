/**
 * A unit's failed items, a page at a time: each opens to its error beside the record's
 * content; Retry each or all, and Purge (the API forgets failed items all at once).
 */
import { useState } from "hono/jsx/dom";
import { path } from "./api";
import { count, time } from "./format";
import { usePolled } from "./hooks";
import { RecordView } from "./record";
import { act, type Session, useSession } from "./session";
import type { FailedItem, FailedPage } from "./types";
import type { UnitView } from "./unit-page";

const PAGE = 20;
const POLL_MS = 5_000;

const same = (a: FailedItem | undefined, b: FailedItem) => a?.scope === b.scope && a.key === b.key;

function retry(session: Session, unit: string, item: FailedItem) {
  return act(session, `Retry ${item.key}`, null, async () => {
    const { requeued } = await session.api.call<{ requeued: number }>("POST", path("reprocess", "retryFailed", unit), { keys: [item.key] });
    return `${count(requeued)} failed item${requeued === 1 ? "" : "s"} of ${unit} queued again`;
  });
}

export function FailedItems(props: { unit: UnitView }) {
  const session = useSession();
  const { name, status, write } = props.unit;
  const [cursors, setCursors] = useState<Array<string | null>>([null]);
  const [opened, setOpened] = useState<FailedItem | undefined>(undefined);
  const cursor = cursors[cursors.length - 1] ?? null;
  const { data, error } = usePolled(
    () =>
      session.api.call<FailedPage>(
        "GET",
        `${path("reprocess", "failed", name)}?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      ),
    POLL_MS,
    [name, cursor],
  );
  const items = data?.items ?? [];
  return (
    <section class="panel failed" aria-labelledby="failed-title">
      <div class="toolbar">
        <h3 id="failed-title">
          Failed items <span class="muted">({count(status.failed)})</span>
        </h3>
        {write && status.failed > 0 ? (
          <span class="controls">
            <button
              type="button"
              aria-label={`Retry all failed items of ${name}`}
              onClick={() =>
                act(session, "Retry all", null, async () => {
                  const { requeued } = await session.api.call<{ requeued: number }>("POST", path("reprocess", "retryFailed", name));
                  return `${count(requeued)} failed items of ${name} queued again`;
                })
              }
            >
              Retry all
            </button>
            <button
              type="button"
              aria-label={`Purge the failed items of ${name}`}
              onClick={() =>
                act(session, "Purge failed", `Forget all ${count(status.failed)} failed items of ${name}? Their records stay.`, async () => {
                  const { purged } = await session.api.call<{ purged: number }>("POST", path("reprocess", "purgeFailed", name));
                  setOpened(undefined);
                  return `${count(purged)} failed items of ${name} forgotten`;
                })
              }
            >
              Purge all failed
            </button>
          </span>
        ) : null}
      </div>
      {error ? <p class="error-text">{error}</p> : null}
      {data && items.length === 0 ? <p class="muted">No failed items.</p> : null}
      <ul class="failed-list">
        {items.map((item) => (
          <li data-key={item.key} data-scope={item.scope} class={same(opened, item) ? "open" : ""}>
            <button
              type="button"
              class="link"
              aria-expanded={same(opened, item) ? "true" : "false"}
              aria-label={`Open failed item ${item.key} (${item.scope})`}
              onClick={() => setOpened(same(opened, item) ? undefined : item)}
            >
              <strong>{item.key}</strong> <span class="muted">{item.scope}</span>
            </button>
            <span class="muted">
              {count(item.attempts)} attempt{item.attempts === 1 ? "" : "s"} · failed {time(item.failedAt)}
            </span>
            <span class="error-line">{item.lastError ?? "—"}</span>
            {write ? (
              <button type="button" class="retry" aria-label={`Retry ${item.key} (${item.scope})`} onClick={() => retry(session, name, item)}>
                Retry
              </button>
            ) : null}
            {same(opened, item) ? <FailedItemView unit={props.unit} item={item} /> : null}
          </li>
        ))}
      </ul>
      <div class="pager">
        {cursors.length > 1 ? (
          <button type="button" onClick={() => setCursors(cursors.slice(0, -1))}>
            Previous page
          </button>
        ) : null}
        {data?.nextCursor ? (
          <button type="button" onClick={() => setCursors([...cursors, data.nextCursor])}>
            Next page
          </button>
        ) : null}
      </div>
    </section>
  );
}

/** An opened failed item: its error and attempts beside the record's content. */
function FailedItemView(props: { unit: UnitView; item: FailedItem }) {
  const { item } = props;
  return (
    <section class="item-view" aria-label={`Failed item ${item.key}`}>
      <div class="item-error">
        <h4>Error</h4>
        <pre class="error-text">{item.lastError ?? "no error recorded"}</pre>
        <p class="muted">
          scope {item.scope} · {count(item.attempts)} attempt{item.attempts === 1 ? "" : "s"} · failed {time(item.failedAt)}
        </p>
      </div>
      <div class="item-record">
        <h4>Record</h4>
        <RecordView unit={props.unit} recordKey={item.key} highlight={item.scope} />
      </div>
    </section>
  );
}
