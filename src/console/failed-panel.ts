/**
 * A unit's failed items (GET /reprocess/failed), a page at a time through `nextCursor`:
 * scope, key, attempts, last error and time, each with Retry; Retry all and Purge all.
 * While open it is read again at every poll and its rows updated in place.
 */
import { ApiFailure, path } from "./api";
import { h, KeyedRows, setText } from "./dom";
import { count, time } from "./format";
import { act, actionButton, type Session } from "./session";
import type { FailedItem, FailedPage } from "./types";

const PAGE_SIZE = 20;
const HEADINGS = ["Scope", "Key", "Attempts", "Last error", "Failed at (UTC)", ""];

export class FailedPanel {
  readonly element: HTMLDivElement;
  private readonly rows: KeyedRows<FailedItem>;
  private readonly summary = h("p", { className: "summary" });
  private readonly writeControls: HTMLButtonElement[];
  private readonly next: HTMLButtonElement;
  private readonly first: HTMLButtonElement;
  /** the cursors of the pages before the one shown; the shown page's own */
  private cursors: Array<string | null> = [];
  private cursor: string | null = null;
  private nextCursor: string | null = null;
  private write = false;

  constructor(
    private readonly unit: string,
    private readonly session: Session,
  ) {
    const body = h("tbody");
    const head = h("thead", {}, h("tr", {}, ...HEADINGS.map((text) => h("th", { scope: "col", textContent: text }))));
    const retryAll = actionButton("Retry all", `Retry all failed items of ${unit}`, (button) =>
      act(session, button, null, async () => this.retry(undefined)),
    );
    const purgeAll = actionButton("Purge all", `Purge all failed items of ${unit}`, (button) =>
      act(session, button, `Forget every failed item of ${unit}? They will not be retried.`, async () => {
        const { purged } = await session.api.call<{ purged: number }>("POST", path("reprocess", "purgeFailed", unit));
        this.firstPage();
        return `${count(purged)} failed items of ${unit} purged`;
      }),
    );
    this.writeControls = [retryAll, purgeAll];
    this.first = actionButton("First page", `First page of failed items of ${unit}`, () => {
      this.firstPage();
      void this.load();
    });
    this.next = actionButton("Next page", `Next page of failed items of ${unit}`, () => {
      this.cursors.push(this.cursor);
      this.cursor = this.nextCursor;
      void this.load();
    });
    this.element = h(
      "div",
      { className: "failed", hidden: true },
      h("h3", { textContent: "Failed items" }),
      h("div", { className: "controls" }, retryAll, purgeAll, this.first, this.next),
      this.summary,
      h("div", { className: "scroll" }, h("table", {}, head, body)),
    );
    this.rows = new KeyedRows(
      body,
      (item) => `${item.scope}\u0000${item.key}`,
      (item) => this.row(item),
    );
  }

  get open(): boolean {
    return !this.element.hidden;
  }

  toggle(): boolean {
    this.element.hidden = !this.element.hidden;
    if (this.open) void this.load();
    return this.open;
  }

  setWrite(write: boolean): void {
    this.write = write;
    for (const button of [...this.writeControls, ...this.element.querySelectorAll<HTMLButtonElement>("button.retry")]) button.hidden = !write;
  }

  /** Reads the shown page again. */
  async load(): Promise<void> {
    if (!this.open) return;
    try {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (this.cursor !== null) query.set("cursor", this.cursor);
      const page = await this.session.api.call<FailedPage>("GET", `${path("reprocess", "failed", this.unit)}?${query}`);
      // the page's first item went (retried, purged): the page before may be empty too, start over
      if (page.items.length === 0 && this.cursor !== null) {
        this.firstPage();
        return this.load();
      }
      this.nextCursor = page.nextCursor;
      this.rows.sync(page.items);
      const pageNumber = this.cursors.length + 1;
      setText(
        this.summary,
        page.items.length === 0
          ? "No failed items."
          : `Page ${pageNumber}: ${count(page.items.length)} ${page.items.length === 1 ? "item" : "items"}${page.nextCursor ? ", more on the next page" : ""}.`,
      );
      this.next.disabled = page.nextCursor === null;
      this.first.disabled = this.cursor === null;
    } catch (error) {
      this.session.notices.error(
        `Failed items of ${this.unit}: ${error instanceof ApiFailure ? `${error.status} ${error.code}: ${error.detail}` : String(error)}`,
      );
    }
  }

  private firstPage(): void {
    this.cursors = [];
    this.cursor = null;
  }

  private async retry(keys: string[] | undefined): Promise<string> {
    const { requeued } = await this.session.api.call<{ requeued: number }>("POST", path("reprocess", "retryFailed", this.unit), keys ? { keys } : {});
    await this.load();
    return `${count(requeued)} failed ${requeued === 1 ? "item" : "items"} of ${this.unit} queued again`;
  }

  private row(item: FailedItem) {
    const cells = HEADINGS.map(() => h("td"));
    const retry = actionButton("Retry", `Retry ${item.key} (${item.scope}) of ${this.unit}`, (button) =>
      act(this.session, button, null, () => this.retry([item.key])),
    );
    retry.className = "retry";
    retry.hidden = !this.write;
    cells[5]!.append(retry);
    cells[3]!.className = "error-text";
    const update = (current: FailedItem) => {
      setText(cells[0]!, current.scope);
      setText(cells[1]!, current.key);
      setText(cells[2]!, count(current.attempts));
      setText(cells[3]!, current.lastError ?? "—");
      setText(cells[4]!, time(current.failedAt));
    };
    return { row: h("tr", {}, ...cells), update };
  }
}
