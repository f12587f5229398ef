/**
 * Runs one seed: a fresh world, one scenario's clients under the seeded scheduler (with
 * crashes), then the invariants. The same seed and scenario give the same schedule, step
 * for step, so a failure replays exactly.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordedCalls } from "../../src/modules/recorder";
import { shardName } from "../../src/routing/layout";
import { answersInContract, grantsEverywhere, noFalseDeletions, rowsOnOwners, splitsEnded, writesKept } from "./checks";
import { Clients } from "./clients";
import { SchedulerStuck } from "./scheduler";
import type { Scenario } from "./scenarios";
import { World } from "./world";

export interface SeedResult {
  seed: number;
  scenario: string;
  /** the unit's name: u<seed> */
  unit: string;
  violations: string[];
  steps: number;
  crashes: number;
  /** the whole schedule, one line a step */
  trace: string[];
}

const root = mkdtempSync(join(tmpdir(), "restage-sim-"));
process.once("exit", () => rmSync(root, { recursive: true, force: true }));

/** Steps a seed may take before it counts as stuck (a livelock), and virtual time to let the unit settle once clients are done. */
const MAX_STEPS = 60_000;
const SETTLE_MS = 120_000;

/** Runs of each seed in this process: each gets a data folder of its own. */
const runs = new Map<number, number>();

/**
 * What the app computes once per process (the key behind user tokens) is computed before
 * the first seed: a seed's first run and its replays then take the same steps.
 */
let warm: Promise<void> | undefined;
function warmUp(): Promise<void> {
  warm ??= (async () => {
    const world = new World(0, join(root, "warm-up"));
    let done = false;
    const work = world.request("PUT", "/security/user/warm-up").then(() => {
      done = true;
    });
    await world.scheduler.run(() => done, { maxSteps: 1_000, settleMs: 0 });
    await work;
    world.close();
  })();
  return warm;
}

export async function runSeed(seed: number, scenario: Scenario): Promise<SeedResult> {
  await warmUp();
  const run = runs.get(seed) ?? 0;
  runs.set(seed, run + 1);
  const unit = `u${seed}`;
  const world = new World(seed, join(root, `seed-${seed}-${run}`));
  const clients = new Clients(world, unit);
  const violations: string[] = [];
  let finished = false;
  const work = scenario.run(clients).then(
    () => {
      finished = true;
    },
    (error: unknown) => {
      finished = true;
      violations.push(`client flow failed: ${error instanceof Error ? error.message : String(error)}`);
    },
  );
  world.scheduler.beforePick = () => (clients.crashing ? maybeCrash(world, unit, scenario.crashRate) : undefined);
  try {
    await world.scheduler.run(() => finished, { maxSteps: MAX_STEPS, settleMs: SETTLE_MS });
    await work;
  } catch (error) {
    if (!(error instanceof SchedulerStuck)) throw error;
    violations.push(`stuck: ${error.message}`);
  }
  violations.push(...clients.violations);
  if (finished) {
    violations.push(
      ...answersInContract(world),
      ...splitsEnded(world, unit),
      ...rowsOnOwners(world, unit),
      ...grantsEverywhere(world, unit, withoutUncertain(clients)),
      ...writesKept(world, unit, clients.model),
      ...noFalseDeletions(unit, clients.model),
      ...reprocessReached(clients),
    );
  }
  const result = {
    seed,
    unit,
    scenario: scenario.name,
    violations,
    steps: world.scheduler.trace.length,
    crashes: world.host.crashes,
    trace: world.scheduler.trace,
  };
  world.close();
  return result;
}

function withoutUncertain(clients: Clients) {
  return new Map([...clients.grants].filter(([user]) => !clients.uncertainUsers.has(user)));
}

/** Every key of a reprocess/all answered OK reached the pipeline after it. */
function reprocessReached(clients: Clients): string[] {
  const since = clients.reprocessedSince;
  if (!since) return [];
  const reached = new Set(
    recordedCalls.filter((call) => call.unit === clients.unit && call.event === "process" && call.at >= since.at && call.key).map((call) => call.key),
  );
  const missed = since.keys.filter((key) => !reached.has(key));
  return missed.length === 0
    ? []
    : [`reprocess/all answered OK at ${since.at} but ${missed.length} keys never reached the pipeline: ${missed.slice(0, 5).join(", ")}`];
}

/** Before a step, with the scenario's chance: one of the unit's busy shards crashes. */
function maybeCrash(world: World, unit: string, rate: number): string | undefined {
  if (rate === 0 || !world.scheduler.rng.chance(rate)) return undefined;
  const busy = Array.from({ length: 16 }, (_, index) => index).filter((index) => world.host.isBusy(world.shardKey(unit, index)));
  if (busy.length === 0) return undefined;
  const index = world.scheduler.rng.pick(busy);
  world.host.crash(world.shardKey(unit, index));
  return `CRASH ${shardName(unit, index)}`;
}
