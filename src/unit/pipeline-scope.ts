/**
 * The refusal of a call that would reprocess a scope the unit has no pipeline for: a
 * misspelt scope must not look like a finished run. Schedules and the reprocess routes
 * refuse with the same answer; each passes the scopes that count as having a pipeline for
 * it (a schedule needs a module to run, a reprocess call only a configured scope, even one
 * with an empty pipeline).
 */
import { failure, type Failure } from "../errors";
import { configuredScopes } from "../modules/pipeline";
import type { UnitConfig } from "./config";

/**
 * INVALID_REQUEST when `scope` is not among `piped` (the scopes that count as having a
 * pipeline here); `where` names the input, `outcome` what would have happened.
 * @example scopeWithoutPipeline({ where: "scope", scope: "rwa", piped: ["raw"], unit: "docs", outcome: "..." })
 */
export function scopeWithoutPipeline(input: { where: string; scope: string; piped: string[]; unit: string; outcome: string }): Failure | undefined {
  const { where, scope, piped, unit, outcome } = input;
  if (piped.includes(scope)) return undefined;
  const known = piped.length === 0 ? "it has none yet" : `scopes with a pipeline: ${piped.map((name) => `'${name}'`).join(", ")}`;
  return failure(
    "INVALID_REQUEST",
    `${where}: scope '${scope}' has no pipeline on storage unit '${unit}', so ${outcome} (${known}); check the scope's spelling, or set a pipeline for '${scope}' first with POST /admin/setContentProcessingModules/${unit}`,
  );
}

/** The refusal of `reprocess/key`, `keys` and `all` on a scope the unit's modules configuration does not name. */
export function unconfiguredScope(unit: Pick<UnitConfig, "name" | "modules">, scope: string): Failure | undefined {
  return scopeWithoutPipeline({
    where: "scope",
    scope,
    piped: configuredScopes(unit.modules),
    unit: unit.name,
    outcome: "reprocessing it would run nothing",
  });
}
