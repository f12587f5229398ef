/**
 * The Durable Objects of the Worker, by name: one place that knows the bindings. Uses the
 * runtime's own `getByName` (Workers, and the self-hosted namespace in src/runtime/objects.ts).
 */
import type { Env } from "./env";
import type { Registry } from "./registry/registry";
import type { StorageUnit } from "./unit/storage-unit";

/**
 * The storage unit object of that name (created by the runtime on first use; it holds
 * nothing until `create`).
 * @example const status = await unitOf(env, "docs").status({ kind: "admin" });
 */
export function unitOf(env: Pick<Env, "STORAGE_UNIT">, name: string): DurableObjectStub<StorageUnit> {
  return env.STORAGE_UNIT.getByName(name);
}

/**
 * The one registry object.
 * @example const units = await registryOf(env).listUnits();
 */
export function registryOf(env: Pick<Env, "REGISTRY">): DurableObjectStub<Registry> {
  return env.REGISTRY.getByName("registry");
}
