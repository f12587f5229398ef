/**
 * Throughput over the last minutes, from the unit's `processed` count as polled: the
 * items completed between two polls over the time between them. One SVG built once; each
 * poll changes only its points.
 */
import { rate } from "./format";

const WINDOW_MS = 5 * 60_000;
const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 300;
const HEIGHT = 40;

interface Sample {
  at: number;
  processed: number;
}

export class Throughput {
  private readonly samples: Sample[] = [];
  readonly element: SVGSVGElement;
  private readonly line: SVGPolylineElement;

  constructor() {
    this.element = document.createElementNS(SVG, "svg");
    this.element.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
    this.element.setAttribute("preserveAspectRatio", "none");
    this.element.setAttribute("class", "sparkline");
    this.element.setAttribute("role", "img");
    this.line = document.createElementNS(SVG, "polyline");
    this.element.append(this.line);
  }

  add(processed: number, at = Date.now()): void {
    const last = this.samples.at(-1);
    // a count lower than the last one: another unit of that name; start over
    if (last && processed < last.processed) this.samples.length = 0;
    this.samples.push({ at, processed });
    while (this.samples.length > 2 && this.samples[0]!.at < at - WINDOW_MS) this.samples.shift();
    this.draw(at);
  }

  /** Items per second over the last `ms` of samples; null before two samples. */
  recentRate(ms = 10_000): number | null {
    const last = this.samples.at(-1);
    if (!last) return null;
    const first = this.samples.find((sample) => sample.at >= last.at - ms) ?? last;
    if (first === last) return null;
    return ((last.processed - first.processed) * 1000) / (last.at - first.at);
  }

  private draw(now: number): void {
    const rates: Array<[at: number, perSecond: number]> = [];
    for (let i = 1; i < this.samples.length; i++) {
      const [before, after] = [this.samples[i - 1]!, this.samples[i]!];
      rates.push([after.at, ((after.processed - before.processed) * 1000) / Math.max(1, after.at - before.at)]);
    }
    const peak = Math.max(1, ...rates.map(([, perSecond]) => perSecond));
    // until five minutes of samples exist, the ones there are fill the width
    const span = Math.max(1, Math.min(WINDOW_MS, now - (this.samples[0]?.at ?? now)));
    const points = rates.map(([at, perSecond]) => {
      const x = WIDTH - ((now - at) / span) * WIDTH;
      const y = HEIGHT - 1 - (perSecond / peak) * (HEIGHT - 2);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    });
    this.line.setAttribute("points", points.join(" "));
    this.element.setAttribute("aria-label", `throughput over the last 5 minutes, peak ${rate(rates.length ? peak : 0)}`);
  }
}
