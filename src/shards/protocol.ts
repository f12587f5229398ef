/**
 * The shard protocol, declared once: for each RPC method of the unit object, how a call is
 * routed over the unit's shards and how their answers make the unit's one answer (API.md,
 * "Sharded storage units"). The Worker reaches a unit through {@link shardedUnit}, which
 * executes this table on the one router (src/routing/router.ts); a shard reaches its
 * siblings through the same router (src/unit/siblings.ts). A method of the object missing
 * here is a type error.
 *
 * - `key`: the shard that holds the key the call names;
 * - `keys`: the keys' shards, each given its group of them, the answers merged;
 * - `shard 0`: the shard that holds the unit's configuration;
 * - `all`: a change of unit-wide state, shard 0 first, then every other (router.ts, `onAll`);
 * - `every`: every shard, the answers merged;
 * - `plan`: more than one step (plans.ts);
 * - `siblings`: a shard's call to another of its unit, never the Worker's;
 * - `platform`: called by the runtime (the alarm), never routed.
 */
import type { Env } from "../env";
import type { Failure } from "../errors";
import { sumMetrics } from "../http/prometheus";
import { sum } from "../routing/key-order";
import type { ShardLayout } from "../routing/layout";
import { ShardRouter, type RoutedCall } from "../routing/router";
import { combineRunLists } from "../unit/runs";
import { combineInfo, combineStatus, mergeFailed, sumHistory } from "./merge";
import * as plans from "./plans";
import type { UnitRouter, UnitRpc } from "./unit-rpc";

type Method = keyof UnitRpc;
/** A shard's arguments to `M`: the call as routed (router.ts, `RoutedCall`) first, for the methods open to callers. */
type Args<M extends Method> = Parameters<UnitRpc[M]>;
/** The Worker's arguments to `M`: a shard's, with the caller in place of the routed call; the router adds the layout. */
type Given<M extends Method> = Args<M> extends [RoutedCall<infer C>, ...infer Rest] ? [C, ...Rest] : Args<M>;
/** One shard's answer to `M`, its failures aside. */
type Part<M extends Method> = Exclude<Awaited<ReturnType<UnitRpc[M]>>, Failure>;

type Route<M extends Method> =
  | { to: "key"; key: (...args: Given<M>) => string }
  | {
      to: "keys";
      keys: (...args: Given<M>) => string[];
      group: (group: string[], ...args: Given<M>) => Given<M>;
      merge: (parts: Part<M>[], ...args: Given<M>) => unknown;
    }
  | { to: "shard 0" }
  | { to: "all"; once?: (...args: Given<M>) => Given<M> }
  | { to: "every"; once?: (...args: Given<M>) => Given<M>; merge: (parts: Part<M>[], ...args: Given<M>) => unknown }
  // biome-ignore lint/suspicious/noExplicitAny: a plan's own arguments are checked where it is written (plans.ts)
  | { to: "plan"; plan: (router: UnitRouter, ...args: any[]) => Promise<unknown> }
  | { to: "siblings" | "platform"; why: string };

export type Protocol = { [M in Method]: Route<M> };

/** One `now` for every shard, so that each computes the same next run times. */
const sameNow = <A extends [unknown, unknown, number?]>(...args: A): A => [args[0], args[1], args[2] ?? Date.now()] as unknown as A;

export const PROTOCOL = {
  // ── admin
  create: { to: "plan", plan: plans.create },
  destroy: { to: "plan", plan: plans.destroy },
  splitting: { to: "plan", plan: plans.splitting },
  info: { to: "every", merge: combineInfo },
  getModules: { to: "shard 0" },
  setModules: { to: "all" },
  setFlag: { to: "all" },
  setSettings: { to: "all" },
  setSchedules: { to: "all", once: sameNow },
  getSchedules: { to: "shard 0" },
  tick: { to: "plan", plan: plans.tick },
  // ── security
  setGrant: { to: "all" },
  removeGrant: { to: "plan", plan: plans.removeGrant },
  checkAccess: { to: "shard 0" },
  // ── records
  add: { to: "key", key: (_caller, _scope, input) => input.key },
  remove: { to: "key", key: (_caller, _scope, input) => input.key },
  fetchRecord: { to: "key", key: (_caller, key) => key },
  batch: { to: "plan", plan: plans.batch },
  fetchMany: { to: "plan", plan: plans.fetchMany },
  fetchPage: { to: "plan", plan: plans.fetchPage },
  pageKeys: { to: "siblings", why: "fetchPage's first step, and an old shard asking its new ones during a split" },
  // ── reprocessing
  reprocessKeys: {
    to: "keys",
    keys: (_caller, _scope, keys) => [...new Set(keys)],
    group: (group, caller, scope) => [caller, scope, group],
    merge: (parts, _caller, _scope, keys) => {
      const missing = new Set(parts.flatMap((part) => part.missing));
      return { queued: sum(parts.map((part) => part.queued)), missing: [...new Set(keys)].filter((key) => missing.has(key)) };
    },
  },
  reprocessAll: { to: "every", merge: (parts) => ({ queued: sum(parts.map((part) => part.queued)) }) },
  runList: { to: "every", merge: (lists, _caller, limit) => combineRunLists(lists, limit) },
  runPart: { to: "plan", plan: plans.runPart },
  cancelRun: { to: "plan", plan: plans.cancelRun },
  metricsOf: { to: "every", merge: sumMetrics },
  reset: { to: "every", merge: (parts) => ({ unassigned: sum(parts.map((part) => part.unassigned)) }) },
  status: { to: "every", merge: combineStatus },
  history: { to: "every", merge: sumHistory },
  setPaused: { to: "all" },
  failedItems: { to: "every", merge: (pages, _caller, limit) => mergeFailed(pages, limit) },
  retryFailed: { to: "plan", plan: plans.retryFailed },
  purgeFailed: { to: "every", merge: (parts) => ({ purged: sum(parts.map((part) => part.purged)) }) },
  purge: { to: "every", merge: (parts) => ({ purged: sum(parts.map((part) => part.purged)) }) },
  // ── a shard's calls to its siblings (src/unit/across-shards.ts)
  readContents: { to: "siblings", why: "a module's read of keys another shard holds" },
  applyReferences: { to: "siblings", why: "reverse rows sent to their keys' shard" },
  enqueueReferrers: { to: "siblings", why: "referrers queued on their shard after a change" },
  alarm: { to: "platform", why: "the job and a split's moves, run by the object's alarm" },
} satisfies Protocol;

type Table = typeof PROTOCOL;

/** The unit as the Worker calls it: each routed method of the table, with the answer its merge (or plan) makes. */
export type ShardedUnit = {
  [M in keyof Table as Table[M]["to"] extends "siblings" | "platform" ? never : M]: Table[M] extends {
    plan: (router: UnitRouter, ...args: infer A) => infer R;
  }
    ? (...args: A) => R
    : Table[M] extends { merge: (...args: never[]) => infer R }
      ? (...args: Given<M>) => Promise<R | Failure>
      : (...args: Given<M>) => Promise<Part<M> | Failure>;
};

/**
 * The unit `name` over its shards (`known`: the layout a shard calling its own unit holds).
 * @example const status = unwrap(await shardedUnit(env, "docs").status(caller));
 */
export function shardedUnit(env: Pick<Env, "STORAGE_UNIT">, name: string, known?: ShardLayout): ShardedUnit {
  return new RoutedUnit(new ShardRouter<UnitRpc>(env.STORAGE_UNIT, name, known)) as unknown as ShardedUnit;
}

/** A routed method's call on one shard: the table names the method, the arguments are the Worker's with the routed call first. */
type ShardCall = (shard: UnitRpc, args: unknown[]) => Promise<unknown>;

function callOn(method: Method): ShardCall {
  return (shard, args) => (shard[method] as (...args: unknown[]) => Promise<unknown>)(...args);
}

/** The Worker's arguments with the routed call in place of the caller. */
function routedArgs(args: unknown[], routed: RoutedCall<unknown>): unknown[] {
  return [routed, ...args.slice(1)];
}

class RoutedUnit {
  constructor(readonly router: UnitRouter) {}
}

/** A routed method's call, by its row of the table. */
function execute(router: UnitRouter, method: Method, route: Route<Method>, given: unknown[]): Promise<unknown> {
  const call = callOn(method);
  const caller = given[0];
  switch (route.to) {
    case "key": {
      const key = (route.key as unknown as (...args: unknown[]) => string)(...given);
      return router.onKey(caller, key, (shard, routed) => call(shard, routedArgs(given, routed)) as Promise<unknown>);
    }
    case "shard 0":
      return router.onFirst(caller, (shard, routed) => call(shard, routedArgs(given, routed)) as Promise<unknown>);
    case "all": {
      const args = route.once ? (route.once as unknown as (...args: unknown[]) => unknown[])(...given) : given;
      return router.onAll(caller, (shard, routed) => call(shard, routedArgs(args, routed)) as Promise<unknown>);
    }
    case "every":
      return every(router, call, route, given);
    case "keys":
      return byKeys(router, call, route, given);
    case "plan":
      return route.plan(router, ...given);
    default:
      throw new Error(`${method} is not called by the Worker: ${route.why}`);
  }
}

async function every(router: UnitRouter, call: ShardCall, route: Extract<Route<Method>, { to: "every" }>, given: unknown[]): Promise<unknown> {
  const args = route.once ? (route.once as unknown as (...args: unknown[]) => unknown[])(...given) : given;
  const parts = await router.everyShard(args[0], (shard, routed) => call(shard, routedArgs(args, routed)));
  return isFailureLike(parts) ? parts : (route.merge as unknown as (parts: unknown[], ...args: unknown[]) => unknown)(parts, ...args);
}

async function byKeys(router: UnitRouter, call: ShardCall, route: Extract<Route<Method>, { to: "keys" }>, given: unknown[]): Promise<unknown> {
  const keys = (route.keys as unknown as (...args: unknown[]) => string[])(...given);
  const group = route.group as unknown as (group: string[], ...args: unknown[]) => unknown[];
  const parts = await router.routed((layout) =>
    router.onGroups(
      keys,
      (key) => key,
      layout,
      (shard, keysHere) => {
        const args = group(keysHere, ...given);
        return call(shard, routedArgs(args, { caller: args[0], layout }));
      },
    ),
  );
  return isFailureLike(parts) ? parts : (route.merge as unknown as (parts: unknown[], ...args: unknown[]) => unknown)(parts, ...given);
}

function isFailureLike(value: unknown): value is Failure {
  return !Array.isArray(value);
}

for (const [method, route] of Object.entries(PROTOCOL) as Array<[Method, Route<Method>]>) {
  if (route.to === "siblings" || route.to === "platform") continue;
  Object.defineProperty(RoutedUnit.prototype, method, {
    value(this: RoutedUnit, ...given: unknown[]) {
      return execute(this.router, method, route, given);
    },
  });
}
