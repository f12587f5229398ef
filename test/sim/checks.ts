/**
 * The invariants checked once a seed's clients are done and its unit has settled. Each
 * returns what it found wrong, as lines naming the invariant; an empty list is a pass.
 */
import { createHash } from "node:crypto";
import type { DatabaseSync } from "node:sqlite";
import { recordedCalls } from "../../src/modules/recorder";
import { shardOf } from "../../src/routing/placement";
import { GONE, inContract, type KeyModel } from "./model";
import type { World } from "./world";

/** Shards probed beyond the layout for rows left where no shard should be. */
const PROBE_SHARDS = 16;

type Row = Record<string, unknown>;

function rows(db: DatabaseSync | undefined, sql: string, ...params: unknown[]): Row[] {
  if (!db) return [];
  try {
    return db.prepare(sql).all(...(params as never[])) as Row[];
  } catch (error) {
    if (/no such table/.test(String(error))) return [];
    throw error;
  }
}

/** Every answer inside the contract; a 500 only where an object crashed under the request. */
export function answersInContract(world: World): string[] {
  return world.exchanges
    .filter((e) => !inContract(e.status, e.message) || (e.status === 500 && !e.crashed))
    .map((e) => `answer outside the contract: ${e.status} ${e.message} for ${e.method} ${e.path} (step ${e.answeredStep})`);
}

export interface Layout {
  shards: number;
  splitTo: number | null;
  /** the unit's placement seed; undefined for a unit placed by FNV-1a */
  seed?: string;
}

/** Shard 0's layout; undefined when the unit does not exist there. */
export function layoutOf(world: World, unit: string): Layout | undefined {
  const [row] = rows(world.shardDb(unit, 0), "SELECT shards, split_to, seed FROM unit");
  if (!row) return undefined;
  return {
    shards: Number(row.shards),
    splitTo: row.split_to === null ? null : Number(row.split_to),
    seed: row.seed === null ? undefined : String(row.seed),
  };
}

/** The split has ended, and every shard of the unit knows the layout shard 0 has, its placement seed included. */
export function splitsEnded(world: World, unit: string): string[] {
  const layout = layoutOf(world, unit);
  if (!layout) return [`unit '${unit}' does not exist on shard 0`];
  const problems: string[] = [];
  if (layout.splitTo !== null) problems.push(`split never ended: shard 0 is still splitting ${layout.shards} → ${layout.splitTo}`);
  for (let index = 1; index < layout.shards; index++) {
    const [row] = rows(world.shardDb(unit, index), "SELECT shard, shards, split_to, seed FROM unit");
    if (!row) problems.push(`shard ${index} of ${layout.shards} does not exist`);
    else if (Number(row.shards) !== layout.shards || row.split_to !== layout.splitTo || Number(row.shard) !== index)
      problems.push(`shard ${index} holds layout ${row.shards}→${row.split_to} (shard ${row.shard}), shard 0 ${layout.shards}→${layout.splitTo}`);
    else if ((row.seed ?? undefined) !== layout.seed) problems.push(`shard ${index} holds another placement seed than shard 0`);
  }
  return problems;
}

/** The tables whose rows belong to one key's shard, and the column naming that key. */
const KEYED: Array<{ table: string; column: string }> = [
  { table: "records", column: "key" },
  { table: "queue", column: "key" },
  { table: "record_refs", column: "key" },
  { table: "record_referrers", column: "ref_key" },
];

/** Tables a settled unit has emptied: outboxes drained, fills finished, no split. */
const DRAINED = ["referrer_outbox", "reference_outbox", "fills", "split", "split_reports"];

/** Every keyed row on its key's shard (so exactly once), none on shards beyond the layout, outboxes and fills drained. */
export function rowsOnOwners(world: World, unit: string): string[] {
  const layout = layoutOf(world, unit);
  if (!layout) return [];
  const problems: string[] = [];
  for (let index = 0; index < Math.max(PROBE_SHARDS, layout.shards); index++) {
    const db = world.shardDb(unit, index);
    if (!db) continue;
    for (const { table, column } of KEYED) {
      for (const row of rows(db, `SELECT ${column} AS k FROM ${table}`)) {
        const owner = shardOf(String(row.k), layout.shards, layout);
        if (owner !== index) problems.push(`${table} row of '${row.k}' on shard ${index}; its owner is shard ${owner} of ${layout.shards}`);
      }
    }
    for (const table of DRAINED) {
      const [row] = rows(db, `SELECT count(*) AS n FROM ${table}`);
      if (row && Number(row.n) > 0) problems.push(`${table} on shard ${index} still holds ${row.n} rows after the unit settled`);
    }
  }
  return problems.slice(0, 20);
}

/** The grants every shard holds: the same on each, and those the clients' acknowledged changes left. */
export function grantsEverywhere(world: World, unit: string, expected: Map<string, { token: string; permission: string }>): string[] {
  const layout = layoutOf(world, unit);
  if (!layout) return [];
  const want = [...expected]
    .map(([user, { token, permission }]) => `${user}:${permission}:${createHash("sha256").update(token).digest("hex")}`)
    .sort()
    .join(", ");
  const problems: string[] = [];
  for (let index = 0; index < layout.shards; index++) {
    const held = rows(world.shardDb(unit, index), "SELECT user_name, permission, token_hash FROM grants")
      .map((row) => `${row.user_name}:${row.permission}:${row.token_hash}`)
      .sort()
      .join(", ");
    if (held !== want) problems.push(`grants on shard ${index}: [${short(held)}], expected [${short(want)}]`);
  }
  return problems;
}

function short(grants: string): string {
  return grants.replace(/:([0-9a-f]{8})[0-9a-f]{56}/g, ":$1…");
}

/** Every (key, scope) on its owner holds what its acknowledged writes left. */
export function writesKept(world: World, unit: string, model: KeyModel): string[] {
  const layout = layoutOf(world, unit);
  if (!layout) return [];
  const problems: string[] = [];
  for (const { key, scope, allowed } of model.entries()) {
    const [row] = rows(
      world.shardDb(unit, shardOf(key, layout.shards, layout)),
      "SELECT content FROM records WHERE key = ? AND scope = ?",
      key,
      scope,
    );
    const held = row?.content == null ? GONE : String(row.content);
    if (!allowed.has(held))
      problems.push(
        `acknowledged write lost: ${scope}/${key} holds ${held.slice(0, 60)}, expected one of ${[...allowed].map((c) => c.slice(0, 60)).join(" | ")}`,
      );
  }
  return problems.slice(0, 20);
}

/** No deletion published (to the Recorder) for a key no client ever deleted. */
export function noFalseDeletions(unit: string, model: KeyModel): string[] {
  return recordedCalls
    .filter(
      (call) => call.unit === unit && call.event === "process" && call.kind === "delete" && call.key !== undefined && !model.deleted.has(call.key),
    )
    .map((call) => `deletion published for live key ${call.scope}/${call.key} at ${call.at}`)
    .slice(0, 10);
}
