/**
 * The cron trigger of wrangler.toml (`* * * * *`) for the self-hosted servers: the
 * Worker's own `scheduled` handler, called at the start of every minute.
 */
import { log } from "../log";

/** The cron expression wrangler.toml declares; a self-hosted server runs only this one. */
export const CRON = "* * * * *";
const MINUTE_MS = 60_000;

/**
 * Calls `tick` with each minute's start time (the `scheduledTime` Workers passes). A tick
 * that fails is logged; the next minute comes all the same.
 */
export function everyMinute(tick: (scheduledTime: number) => Promise<unknown>): { stop(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const next = () => {
    const at = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
    timer = setTimeout(() => {
      next();
      tick(at).catch((error: unknown) => log("error", "cron-failed", { error: String(error) }));
    }, at - Date.now());
  };
  next();
  return { stop: () => clearTimeout(timer) };
}
