/** Checking a unit's module configuration, and building a scope's pipeline for one batch. */
import { failure, type Failure } from "../errors";
import { describeIssues } from "../zod-issues";
import type { ModulesConfig } from "../schemas";
import { availableModules, testModuleHint } from "./registry";
import type { ModuleContext, ModuleInstance } from "./types";

/**
 * Validates every module of every scope with that module's own schema; returns the
 * configuration with each module's defaults filled in, or the first problem found.
 */
export function checkModulesConfig(config: ModulesConfig, env: Record<string, unknown>): ModulesConfig | Failure {
  const checked: ModulesConfig = { modules: {}, settings: config.settings };
  const modules = availableModules(env);
  for (const [scope, pipeline] of Object.entries(config.modules)) {
    checked.modules[scope] = [];
    for (const [index, ref] of pipeline.entries()) {
      const where = `modules.${scope}[${index}]`;
      const definition = modules.get(ref.module);
      if (!definition) {
        const unknown = testModuleHint(ref.module, env) ?? `no module named '${ref.module}'; known modules: ${[...modules.keys()].join(", ")}`;
        return failure("UNKNOWN_MODULE", `${where}: ${unknown}`);
      }
      const parsed = definition.settings.safeParse(ref.settings);
      if (!parsed.success) {
        return failure("INVALID_MODULE_SETTINGS", `${where} (${ref.module}): ${describeIssues(parsed.error, "settings")}`);
      }
      const problem = definition.checkEnvironment?.(parsed.data, env);
      if (problem) return failure("INVALID_MODULE_SETTINGS", `${where} (${ref.module}): ${problem}`);
      checked.modules[scope]!.push({ module: ref.module, settings: parsed.data as Record<string, unknown> });
    }
  }
  return checked;
}

/** Fresh module instances for one batch of `scope`; empty when the scope has no pipeline. */
export function createPipeline(
  config: ModulesConfig,
  scope: string,
  base: Omit<ModuleContext<unknown>, "settings" | "scope" | "unitSettings">,
): ModuleInstance[] {
  return pipelineOf(config, scope).map((ref) => {
    const definition = availableModules(base.env).get(ref.module);
    if (!definition)
      throw new Error(testModuleHint(ref.module, base.env) ?? `module '${ref.module}' is no longer registered; set the unit's modules again`);
    return definition.create({ ...base, scope, unitSettings: config.settings, settings: definition.settings.parse(ref.settings) });
  });
}

export function hasPipeline(config: ModulesConfig, scope: string): boolean {
  return pipelineOf(config, scope).length > 0;
}

/**
 * The scopes the configuration names, in its order: every one, or with `withModules` only
 * those whose pipeline has a module (an empty pipeline is configured but runs nothing).
 */
export function configuredScopes(config: ModulesConfig, { withModules = false } = {}): string[] {
  return Object.keys(config.modules).filter((scope) => !withModules || hasPipeline(config, scope));
}

/**
 * The modules of `scope`, by own property only: `constructor`, `toString` and the like are
 * valid scope names, and a plain lookup would find `Object.prototype`'s members instead.
 */
function pipelineOf(config: ModulesConfig, scope: string): ModulesConfig["modules"][string] {
  return Object.hasOwn(config.modules, scope) ? config.modules[scope]! : [];
}
