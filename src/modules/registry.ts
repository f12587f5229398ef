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

const definitions: ModuleDefinition<any>[] = [FieldMapping, ScopeWriter, ForeignKeyJoin, HttpPublisher, QueuePublisher, Noop, Recorder, Fault];

export const MODULES: ReadonlyMap<string, ModuleDefinition<any>> = new Map(definitions.map((definition) => [definition.name, definition]));
