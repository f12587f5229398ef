/**
 * Small DOM helpers. The console builds each element once and afterwards changes only
 * text and attributes, so nothing under the user's pointer is replaced while they click.
 */

type Props<K extends keyof HTMLElementTagNameMap> = Partial<Omit<HTMLElementTagNameMap[K], "style" | "children">>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props<K> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const element = Object.assign(document.createElement(tag), props);
  element.append(...children);
  return element;
}

/** Sets the text only when it changed: no needless mutation, no lost selection. */
export function setText(element: Element, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}

export function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

/**
 * The rows of a table body kept in step with a list, by key: a row is created for a new
 * item, updated in place for a known one and removed for a gone one; rows are moved only
 * when the order changed.
 */
export class KeyedRows<T> {
  private readonly rows = new Map<string, { row: HTMLTableRowElement; update: (item: T) => void }>();

  constructor(
    private readonly body: HTMLTableSectionElement,
    private readonly keyOf: (item: T) => string,
    private readonly create: (item: T) => { row: HTMLTableRowElement; update: (item: T) => void },
  ) {}

  sync(items: T[]): void {
    const keys = new Set(items.map(this.keyOf));
    for (const [key, { row }] of this.rows) {
      if (!keys.has(key)) {
        row.remove();
        this.rows.delete(key);
      }
    }
    items.forEach((item, index) => {
      const key = this.keyOf(item);
      let entry = this.rows.get(key);
      if (!entry) {
        entry = this.create(item);
        this.rows.set(key, entry);
      }
      entry.update(item);
      if (this.body.rows[index] !== entry.row) this.body.insertBefore(entry.row, this.body.rows[index] ?? null);
    });
  }
}
