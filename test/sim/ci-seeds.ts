/**
 * The CI share of the simulation: the scenarios that hold on main, over SIM_SEEDS seeds
 * (default 1,000, about 111 for each of the nine scenarios), split between test files so the two cores share them. A scenario marked `pending` in
 * scenarios.ts shows a race the shard protocol does not yet remove; it joins CI (drop its
 * `pending`) once it passes.
 */
import { expect, it } from "vitest";
import { runSeed } from "./run";
import { SCENARIOS } from "./scenarios";

const SEEDS = Number(process.env.SIM_SEEDS ?? 1000);
export const CI_SCENARIOS = SCENARIOS.filter((s) => !s.pending);

/** A test that runs seeds `part`, `part + parts`, … up to SIM_SEEDS, each its scenario (seed mod their count). */
export function ciSeeds(part: number, parts: number): void {
  const seeds = Array.from({ length: Math.ceil((SEEDS - part + 1) / parts) }, (_, i) => part + i * parts).filter((seed) => seed <= SEEDS);
  it(`runs ${seeds.length} of ${SEEDS} seeds of ${CI_SCENARIOS.map((s) => s.name).join(", ")} with every invariant kept`, async () => {
    const failures: string[] = [];
    for (const seed of seeds) {
      const chosen = CI_SCENARIOS[seed % CI_SCENARIOS.length]!;
      const result = await runSeed(seed, chosen);
      if (result.violations.length > 0)
        failures.push(
          `seed ${seed} (${chosen.name}): ${result.violations[0]} — replay: npm run sim -- --from ${seed} --seeds 1 --scenario ${chosen.name}`,
        );
      if (failures.length >= 5) break;
    }
    expect(failures).toEqual([]);
  });
}
