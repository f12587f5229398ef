/**
 * `npm run sim -- [--seeds N] [--from S] [--scenario NAME | --pending | --all] [--trace K] [--keep-going] [--progress P] [--list]`:
 * runs N seeds from S (each seed runs the scenario seed mod the scenarios chosen: by default
 * the CI ones, `--pending` the ones known to fail on main, `--all` both) and stops at the
 * first failing seed, printing its invariants and the last K steps of its schedule. A seed
 * replays exactly: `--from S --seeds 1 --scenario NAME` runs that schedule again.
 * `--keep-going` runs every seed and sums up the failures; `--progress P` prints a line every P seeds (for long runs).
 */
import { runSeed } from "./run";
import { SCENARIOS, scenario, type Scenario } from "./scenarios";

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? undefined : args[at + 1];
}

export function chosenScenarios(args: string[]): Scenario[] {
  const named = option(args, "scenario");
  if (named) return named.split(",").map(scenario);
  if (args.includes("--all")) return SCENARIOS;
  if (args.includes("--pending")) return SCENARIOS.filter((s) => s.pending);
  return SCENARIOS.filter((s) => !s.pending);
}

export async function main(args: string[]): Promise<number> {
  if (args.includes("--list")) {
    for (const s of SCENARIOS) console.log(`${s.name}${s.pending ? " (pending)" : ""}: ${s.about}`);
    return 0;
  }
  const seeds = Number(option(args, "seeds") ?? 100);
  const from = Number(option(args, "from") ?? 1);
  const traceLines = Number(option(args, "trace") ?? 40);
  const keepGoing = args.includes("--keep-going");
  const progress = Number(option(args, "progress") ?? 0);
  const scenarios = chosenScenarios(args);
  const started = performance.now();
  let failures = 0;
  const failedBy = new Map<string, number[]>();
  /** with --keep-going: each kind of violation, per scenario, with the seeds that showed it */
  const kinds = new Map<string, number[]>();
  for (let seed = from; seed < from + seeds; seed++) {
    const chosen = scenarios[seed % scenarios.length]!;
    const result = await runSeed(seed, chosen);
    if (progress > 0 && (seed - from + 1) % progress === 0)
      console.log(`${seed - from + 1} seeds (up to seed ${seed}) in ${((performance.now() - started) / 1000).toFixed(0)} s, ${failures} failing`);
    if (args.includes("--verbose"))
      console.log(`seed ${seed} ${chosen.name}: ${result.steps} steps, ${result.crashes} crashes, ${result.violations.length} violations`);
    if (args.includes("--dump")) for (const line of result.trace) console.log(`  ${line}`);
    if (result.violations.length === 0) continue;
    failures++;
    failedBy.set(chosen.name, [...(failedBy.get(chosen.name) ?? []), seed]);
    const replay = `npm run sim -- --from ${seed} --seeds 1 --scenario ${chosen.name}`;
    if (keepGoing) {
      console.log(`seed ${seed} (${chosen.name}) FAILED: ${result.violations[0]}`);
      for (const kind of new Set(result.violations.map((violation) => `${chosen.name}: ${kindOf(violation)}`)))
        kinds.set(kind, [...(kinds.get(kind) ?? []), seed]);
      continue;
    }
    console.log(`seed ${seed} FAILED: scenario ${chosen.name} (${result.steps} steps, ${result.crashes} crashes)`);
    for (const violation of result.violations.slice(0, 15)) console.log(`  ✗ ${violation}`);
    console.log(`last ${traceLines} steps:`);
    for (const line of result.trace.slice(-traceLines)) console.log(`  ${line}`);
    console.log(`replay: ${replay}`);
    break;
  }
  const seconds = (performance.now() - started) / 1000;
  const ran = failures > 0 && !keepGoing ? "stopped at the first failure" : `${seeds} seeds`;
  console.log(`${ran} in ${seconds.toFixed(1)} s; scenarios: ${scenarios.map((s) => s.name).join(", ")}`);
  for (const [name, list] of failedBy)
    console.log(`  ${name}: ${list.length} failing seeds (${list.slice(0, 12).join(", ")}${list.length > 12 ? ", …" : ""})`);
  if (kinds.size > 0) console.log("violations by kind:");
  for (const [kind, list] of [...kinds].sort())
    console.log(`  ${list.length} × ${kind} (seeds ${list.slice(0, 8).join(", ")}${list.length > 8 ? ", …" : ""})`);
  return failures > 0 ? 1 : 0;
}

/** A violation without its particulars (numbers, keys, paths), to count the kinds. */
function kindOf(violation: string): string {
  return violation
    .replace(/\[[^\]]*\]/g, "[…]")
    .replace(/'[^']*'/g, "'…'")
    .replace(/\/[^\s]*/g, "/…")
    .replace(/\b(s|w\d-)\d+\b/g, "K")
    .replace(/\d+/g, "N");
}
