/** How the console writes numbers, rates, durations and times: separators, one time zone (UTC), labelled. */

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const fraction = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

export const count = (n: number): string => integer.format(n);
/** with one decimal where there is one: an axis's 0.5 */
export const decimal = (n: number): string => fraction.format(n);

export function rate(itemsPerSecond: number | null | undefined): string {
  if (itemsPerSecond === null || itemsPerSecond === undefined || !Number.isFinite(itemsPerSecond)) return "—";
  return `${itemsPerSecond < 10 ? fraction.format(itemsPerSecond) : integer.format(itemsPerSecond)}/s`;
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${integer.format(Math.floor(s / 86400))} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** `2026-11-30 17:02:05 UTC`: every time on the page in the same zone, which it names. */
export function time(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

export function percent(done: number, total: number): string {
  if (total <= 0) return "—";
  return `${fraction.format(Math.min(100, (done / total) * 100))} %`;
}

const UNITS = ["B", "KB", "MB", "GB", "TB"];

/** Bytes in powers of 1000, as the platform states its limits (10 GB a Durable Object). */
export function bytes(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? integer.format(value) : fraction.format(value)} ${UNITS[unit]}`;
}

/** How far off a time is, in words: "in 3 min", "5 s ago". */
export function relative(iso: string, now = Date.now()): string {
  const seconds = (Date.parse(iso) - now) / 1000;
  return seconds >= 0 ? `in ${duration(seconds)}` : `${duration(-seconds)} ago`;
}
