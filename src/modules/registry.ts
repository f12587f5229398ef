/** The modules a pipeline may name. Register a new module by adding it here. */
import { Fault } from "./fault";
import { FieldMapping } from "./field-mapping";
import { ForeignKeyJoin } from "./foreign-key-join";
import { HttpPublisher } from "./http-publisher";
import { Noop } from "./noop";
import { QueuePublisher } from "./queue-publisher";
import { Recorder } from "./recorder";
import { ScopeWriter } from "./scope-writer";
import type { ModuleDefinition } from "./types";

// biome-ignore lint/suspicious/noExplicitAny: each module has its own settings type; the registry holds them all
type Modules = ReadonlyMap<string, ModuleDefinition<any>>;

// biome-ignore lint/suspicious/noExplicitAny: as above
const byName = (definitions: ModuleDefinition<any>[]): Modules => new Map(definitions.map((definition) => [definition.name, definition]));

/** The modules of every build. */
const MODULES = byName([FieldMapping, ScopeWriter, ForeignKeyJoin, HttpPublisher, QueuePublisher, Noop]);

/**
 * Modules for tests and benchmarks, kept out of production: Recorder holds documents in
 * the isolate's memory and Fault can stall workers on purpose.
 */
const TEST_MODULES = byName([Recorder, Fault]);
const WITH_TEST_MODULES: Modules = new Map([...MODULES, ...TEST_MODULES]);

/** The environment variable that makes the test modules available, when it is exactly "true". */
export const TEST_MODULES_VARIABLE = "RESTAGE_TEST_MODULES";

/** The modules a pipeline may name in this environment. */
export function availableModules(env: Record<string, unknown>): Modules {
  return env[TEST_MODULES_VARIABLE] === "true" ? WITH_TEST_MODULES : MODULES;
}

/** Why a module is not available here when it is a test module (how to enable it), else undefined. */
export function testModuleHint(name: string, env: Record<string, unknown>): string | undefined {
  if (!TEST_MODULES.has(name) || availableModules(env).has(name)) return undefined;
  return `'${name}' is a test module, available only when the environment variable ${TEST_MODULES_VARIABLE} is set to "true" (wrangler.toml [vars], --var ${TEST_MODULES_VARIABLE}:true, or the self-hosted server's environment)`;
}
