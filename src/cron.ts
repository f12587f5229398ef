/**
 * The cron trigger: visits, through the registry, the units with schedules or unfinished
 * work. Each visit runs that unit's due schedules and re-arms an alarm that was lost; a
 * unit found idle takes itself off the list until it has work again.
 */
import type { Env } from "./env";
import { forEachConcurrently } from "./concurrency";
import { registryOf } from "./bindings";
import { shardedUnit } from "./shards/protocol";
import { log } from "./log";

/** Units visited at once: keeps a tick within the connection limits of one invocation. */
const VISITS_AT_ONCE = 6;

export async function runCronTick(env: Env, scheduledTime: number): Promise<{ visited: number }> {
  const registry = registryOf(env);
  const names = await registry.activeUnits();
  await forEachConcurrently(names, VISITS_AT_ONCE, async (name) => {
    try {
      const { exists } = await shardedUnit(env, name).tick(scheduledTime);
      if (!exists) await registry.removeUnit(name);
    } catch (error) {
      log("error", "cron-visit-failed", { unit: name, error: String(error) });
    }
  });
  return { visited: names.length };
}
