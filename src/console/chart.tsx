/**
 * Charts of a unit's history (GET /reprocess/history): a line per series over the minutes,
 * with a y axis scaled to a round maximum and the times of the x axis in UTC. SVG drawn
 * from the answer, so a fresh page shows the last 24 h at once.
 */
import { count, decimal } from "./format";
import type { HistoryPoint } from "./types";

const W = 360;
const H = 150;
const LEFT = 44;
const RIGHT = 8;
const TOP = 10;
const BOTTOM = 22;

export interface Series {
  name: string;
  values: number[];
  /** its colour, from app.css */
  className: string;
}

/** The smallest 1, 2 or 5 × 10ⁿ at or above `max` (at least 1): the top of the axis. */
export function niceMax(max: number): number {
  if (max <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((step) => step * power).find((top) => top >= max) ?? 10 * power;
}

const hhmm = (iso: string) => iso.slice(11, 16);

function line(values: number[], top: number): string {
  const dx = (W - LEFT - RIGHT) / Math.max(values.length - 1, 1);
  return values.map((value, index) => `${(LEFT + index * dx).toFixed(1)},${(TOP + (1 - value / top) * (H - TOP - BOTTOM)).toFixed(1)}`).join(" ");
}

export function Chart(props: { title: string; unit: string; times: string[]; series: Series[] }) {
  const top = niceMax(Math.max(0, ...props.series.flatMap((series) => series.values)));
  const ticks = [0, top / 2, top];
  const first = props.times[0];
  const last = props.times[props.times.length - 1];
  const middle = props.times[Math.floor(props.times.length / 2)];
  const summary = props.series
    .map((series) => `${series.name}: ${count(series.values[series.values.length - 1] ?? 0)} in the last minute`)
    .join("; ");
  return (
    <figure class="chart">
      <figcaption>
        {props.title} <span class="muted">({props.unit})</span>
        <span class="legend">
          {props.series.map((series) => (
            <span class={`key ${series.className}`}>{series.name}</span>
          ))}
        </span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${props.title}, ${props.unit}: ${summary}`}>
        {ticks.map((tick) => {
          const y = TOP + (1 - tick / top) * (H - TOP - BOTTOM);
          return (
            <g>
              <line class="grid" x1={LEFT} x2={W - RIGHT} y1={y} y2={y} />
              <text class="axis" x={LEFT - 4} y={y + 3} text-anchor="end">
                {decimal(tick)}
              </text>
            </g>
          );
        })}
        {first && last && middle ? (
          <g>
            <text class="axis" x={LEFT} y={H - 6} text-anchor="start">
              {hhmm(first)}
            </text>
            <text class="axis" x={(LEFT + W - RIGHT) / 2} y={H - 6} text-anchor="middle">
              {hhmm(middle)}
            </text>
            <text class="axis" x={W - RIGHT} y={H - 6} text-anchor="end">
              {hhmm(last)} UTC
            </text>
          </g>
        ) : null}
        {props.series.map((series) => (
          <polyline class={`series ${series.className}`} points={line(series.values, top)} />
        ))}
      </svg>
    </figure>
  );
}

/** Throughput and backlog of a unit from its history points. */
export function HistoryCharts(props: { points: HistoryPoint[] }) {
  const times = props.points.map((point) => point.at);
  return (
    <div class="charts">
      <Chart
        title="Throughput"
        unit="items per minute"
        times={times}
        series={[
          { name: "processed", values: props.points.map((point) => point.processed), className: "ok" },
          { name: "failed", values: props.points.map((point) => point.failed), className: "bad" },
        ]}
      />
      <Chart
        title="Backlog"
        unit="items pending at each minute's end"
        times={times}
        series={[{ name: "pending", values: props.points.map((point) => point.pending), className: "queue" }]}
      />
    </div>
  );
}

/** A small line of items done per minute, for the overview. */
export function Sparkline(props: { points: HistoryPoint[]; label: string }) {
  const values = props.points.map((point) => point.processed + point.failed);
  const top = Math.max(1, ...values);
  const dx = 80 / Math.max(values.length - 1, 1);
  const points = values.map((value, index) => `${(index * dx).toFixed(1)},${(22 - (value / top) * 20).toFixed(1)}`).join(" ");
  return (
    <svg class="spark" viewBox="0 0 80 24" role="img" aria-label={props.label}>
      <polyline points={points} />
    </svg>
  );
}
