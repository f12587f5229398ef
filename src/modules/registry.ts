/** The modules a pipeline may name. Register a new module by adding it here. */
import { Fault } from "./fault";
import { Noop } from "./noop";
import { Recorder } from "./recorder";
import type { ModuleDefinition } from "./types";

const definitions: ModuleDefinition<any>[] = [Noop, Recorder, Fault];

export const MODULES: ReadonlyMap<string, ModuleDefinition<any>> = new Map(definitions.map((definition) => [definition.name, definition]));
