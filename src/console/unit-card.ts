/**
 * One storage unit on the console: its queue state and counts, rate and ETA, throughput
 * sparkline, controls, runs and failed items. Built once; each poll updates it in place.
 * Controls that write are shown only when the token may write on the unit.
 */
import { type ApiFailure, path } from "./api";
import { h, setText } from "./dom";
import { count, duration, rate, time } from "./format";
import { FailedPanel } from "./failed-panel";
import { RunsTable } from "./runs-table";
import { act, actionButton, type Session } from "./session";
import { Throughput } from "./sparkline";
import type { Run, Status } from "./types";

const STATS = ["Pending", "Assigned", "Failed", "Processed", "Rate", "ETA", "Next run", "Last error"] as const;
type Stat = (typeof STATS)[number];

export class UnitCard {
  readonly element: HTMLElement;
  private readonly badges = h("span", { className: "badges" });
  private readonly problem = h("p", { className: "problem", hidden: true });
  private readonly stats = new Map<Stat, HTMLElement>();
  private readonly throughput = new Throughput();
  private readonly pause: HTMLButtonElement;
  private readonly writeControls: HTMLButtonElement[];
  private readonly failedToggle: HTMLButtonElement;
  private readonly runs: RunsTable;
  private readonly failed: FailedPanel;
  private paused = false;

  constructor(
    readonly name: string,
    session: Session,
  ) {
    const list = h("dl", { className: "stats" });
    for (const stat of STATS) {
      const value = h("dd");
      this.stats.set(stat, value);
      list.append(h("div", { className: stat === "Last error" ? "wide" : "" }, h("dt", { textContent: stat }), value));
    }
    this.pause = actionButton("Pause", `Pause or resume ${name}`, (button) => {
      const verb = this.paused ? "resume" : "pause";
      const question = this.paused ? null : `Pause the queue of ${name}? Its items wait until you resume.`;
      return act(session, button, question, async () => {
        await session.api.call("PUT", path("reprocess", verb, name));
        return `${name} ${verb === "pause" ? "paused" : "resumed"}`;
      });
    });
    const reset = actionButton("Reset", `Reset the assigned items of ${name}`, (button) =>
      act(session, button, `Give every item assigned to a worker of ${name} back to the queue?`, async () => {
        const { unassigned } = await session.api.call<{ unassigned: number }>("POST", path("reprocess", "reset", name));
        return `${count(unassigned)} assigned items of ${name} back in the queue`;
      }),
    );
    this.writeControls = [this.pause, reset];
    this.failed = new FailedPanel(name, session);
    this.failedToggle = actionButton("Failed items", `Show the failed items of ${name}`, (button) => {
      button.setAttribute("aria-expanded", String(this.failed.toggle()));
    });
    this.failedToggle.setAttribute("aria-expanded", "false");
    this.runs = new RunsTable(name, session);
    const sparkline = h(
      "div",
      { className: "throughput" },
      h("span", { className: "caption", textContent: "Processed per second over the last 5 minutes (since sign-in, if less)" }),
    );
    sparkline.prepend(this.throughput.element);
    this.element = h(
      "section",
      { className: "unit" },
      h("header", {}, h("h2", { textContent: name }), this.badges),
      this.problem,
      list,
      sparkline,
      h("div", { className: "controls" }, this.pause, reset, this.failedToggle),
      this.runs.element,
      this.failed.element,
    );
    this.element.dataset.unit = name;
  }

  /** What the token may do here: without read the unit's state is not asked for. */
  setAccess(read: boolean, write: boolean): void {
    for (const button of this.writeControls) button.hidden = !write;
    this.failedToggle.hidden = !read;
    this.runs.setWrite(write);
    this.failed.setWrite(write);
    if (!read) this.showProblem("This token may write on this unit but not read it: its state is not shown.");
  }

  /** A poll's answers: the status (or why it failed) and the runs (undefined: not known). */
  update(status: Status | ApiFailure, runs: Run[] | undefined): void {
    if (!("enabled" in status)) {
      this.showProblem(`${status.code}: ${status.detail}`);
      return;
    }
    this.problem.hidden = true;
    this.paused = status.paused;
    setText(this.pause, status.paused ? "Resume" : "Pause");
    const badges = [
      status.enabled ? "queue enabled" : "queue disabled",
      status.paused ? "paused" : "",
      status.filling ? `filling, ${count(status.fillRemaining ?? 0)} to come` : "",
    ];
    setText(this.badges, badges.filter(Boolean).join(" · "));
    this.element.classList.toggle("paused", status.paused);
    this.throughput.add(status.processed);
    // the server's own figures once it has them (API.md, "Runs, progress and metrics"); until then, the polled counts'
    const perSecond = status.itemsPerSecond !== undefined ? status.itemsPerSecond : this.throughput.recentRate();
    const left = status.pending + status.assigned + (status.fillRemaining ?? 0);
    const eta = status.etaSeconds !== undefined ? status.etaSeconds : perSecond && left > 0 ? left / perSecond : null;
    const values: Record<Stat, string> = {
      Pending: count(status.pending),
      Assigned: count(status.assigned),
      Failed: count(status.failed),
      Processed: count(status.processed),
      Rate: left > 0 || perSecond ? rate(perSecond ?? null) : "idle",
      ETA: left > 0 ? duration(eta) : "—",
      "Next run": status.nextRunAt ? time(status.nextRunAt) : "—",
      "Last error": status.lastError ?? "—",
    };
    for (const stat of STATS) setText(this.stats.get(stat)!, values[stat]);
    if (runs) this.runs.update(runs);
    if (this.failed.open) void this.failed.load();
  }

  private showProblem(text: string): void {
    setText(this.problem, text);
    this.problem.hidden = false;
  }
}
