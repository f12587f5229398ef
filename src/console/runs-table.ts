/**
 * The unit's latest runs (GET /reprocess/runs): per run its state, a progress bar with the
 * share of its items done, its rate and ETA, and Cancel while it fills or runs.
 */
import { path } from "./api";
import { h, KeyedRows, setText } from "./dom";
import { count, duration, percent, rate, time } from "./format";
import { act, actionButton, type Session } from "./session";
import type { Run } from "./types";

const HEADINGS = ["Run", "Scope", "State", "Progress", "Done / total", "Rate", "ETA", "Started (UTC)", ""];

export class RunsTable {
  readonly element: HTMLDivElement;
  private readonly rows: KeyedRows<Run>;
  private write = false;

  constructor(
    private readonly unit: string,
    private readonly session: Session,
  ) {
    const body = h("tbody");
    const head = h("thead", {}, h("tr", {}, ...HEADINGS.map((text) => h("th", { scope: "col", textContent: text }))));
    this.element = h(
      "div",
      { className: "runs", hidden: true },
      h("h3", { textContent: "Runs" }),
      h("div", { className: "scroll" }, h("table", {}, head, body)),
    );
    this.rows = new KeyedRows(
      body,
      (run) => run.id,
      (run) => this.row(run),
    );
  }

  setWrite(write: boolean): void {
    this.write = write;
    for (const button of this.element.querySelectorAll<HTMLButtonElement>("button.cancel")) button.hidden = !write || button.dataset.live !== "true";
  }

  update(runs: Run[]): void {
    this.element.hidden = runs.length === 0;
    this.rows.sync(runs);
  }

  private row(first: Run) {
    const cells = Array.from({ length: HEADINGS.length }, () => h("td"));
    const bar = h("progress", { max: 100, value: 0 });
    const share = h("span", { className: "share" });
    cells[3]!.append(bar, " ", share);
    cells[0]!.title = first.id;
    setText(cells[0]!, `${first.id.slice(0, 8)} · ${first.trigger}`);
    const cancel = actionButton("Cancel", `Cancel run ${first.id} of ${this.unit}`, (button) =>
      act(this.session, button, `Cancel run ${first.id} of ${this.unit}? Its items not yet processed leave the queue.`, async () => {
        const { dropped } = await this.session.api.call<{ dropped: number }>("POST", path("reprocess", "cancel", this.unit, first.id));
        return `Run ${first.id.slice(0, 8)} of ${this.unit} cancelled: ${count(dropped)} items dropped`;
      }),
    );
    cancel.className = "cancel";
    cells[8]!.append(cancel);
    const row = h("tr", {}, ...cells);
    row.dataset.run = first.id;
    const update = (run: Run) => {
      const done = run.processed + run.failed;
      const total = run.state === "done" && run.total === 0 ? 1 : run.total;
      bar.value = run.state === "done" ? 100 : total > 0 ? Math.min(100, (done / total) * 100) : 0;
      setText(share, run.state === "done" ? "100 %" : percent(done, total));
      setText(
        cells[1]!,
        run.prefix || run.since
          ? `${run.scope} (${[run.prefix && `prefix ${run.prefix}`, run.since && `since ${time(run.since)}`].filter(Boolean).join(", ")})`
          : run.scope,
      );
      setText(cells[2]!, run.state);
      row.className = `state-${run.state}`;
      setText(cells[4]!, `${count(done)} / ${count(run.total)}${run.failed ? ` (${count(run.failed)} failed)` : ""}`);
      setText(cells[5]!, rate(run.itemsPerSecond));
      setText(cells[6]!, run.state === "filling" || run.state === "running" ? duration(run.etaSeconds) : "—");
      setText(cells[7]!, time(run.startedAt));
      cancel.dataset.live = String(run.state === "filling" || run.state === "running");
      cancel.hidden = !this.write || cancel.dataset.live !== "true";
    };
    return { row, update };
  }
}
