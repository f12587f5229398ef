/**
 * Messages at the top of the page. An error stays until the user dismisses it (a refresh
 * never wipes it); the same message twice is shown once, with a count. A confirmation of
 * an action (“requeued 3 items”) fades on its own.
 */
import { h } from "./dom";

const CONFIRMATION_MS = 6_000;

export class Notices {
  private readonly shown = new Map<string, { item: HTMLLIElement; times: number; counter: HTMLSpanElement }>();

  constructor(private readonly list: HTMLUListElement) {}

  error(text: string): void {
    const known = this.shown.get(text);
    if (known) {
      known.times++;
      known.counter.textContent = ` (×${known.times})`;
      return;
    }
    const counter = h("span", { className: "times" });
    const dismiss = h("button", { type: "button", className: "dismiss", textContent: "Dismiss" });
    const item = h("li", { className: "error" }, h("span", { className: "text", textContent: text }), counter, dismiss);
    dismiss.addEventListener("click", () => {
      item.remove();
      this.shown.delete(text);
    });
    this.shown.set(text, { item, times: 1, counter });
    this.list.append(item);
  }

  confirm(text: string): void {
    const item = h("li", { className: "done", textContent: text });
    this.list.append(item);
    setTimeout(() => item.remove(), CONFIRMATION_MS);
  }

  clearErrors(): void {
    for (const { item } of this.shown.values()) item.remove();
    this.shown.clear();
  }
}
