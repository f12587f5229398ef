/**
 * The workloads a seed can run. Each builds a unit, starts its clients at once (the
 * scheduler interleaves every call they make), waits for the unit to settle, and leaves
 * the rest to the checks of run.ts. `pending` scenarios show races of main that the shard
 * protocol's fixes (issues 17 and 21) remove: `npm run sim -- --pending` runs them; the CI
 * test runs the others. Once those fixes land, each pending scenario is to pass and move
 * to CI (drop its `pending`).
 */
import type { Clients } from "./clients";

export interface Scenario {
  name: string;
  /** what it shows, and for a pending one the finding it reproduces */
  about: string;
  /** known to fail on main: kept out of the CI test until the shard protocol fixes land */
  pending?: true;
  /** the chance, per step, that a busy shard crashes */
  crashRate: number;
  run(clients: Clients): Promise<void>;
}

const pick = <T>(clients: Clients, items: readonly T[]) => clients.rng.pick(items);

/** Creates the unit and its pipelines (books join authors, both recorded), the stable keys, and lets the ingestion drain. */
async function setUp(clients: Clients, shards: number, stable: number): Promise<void> {
  const created = await clients.create(shards);
  if (created.status !== 200) throw new Error(`setting up: create answered ${created.status} ${created.body.message}`);
  const modules = await clients.setModules(true);
  if (modules.status !== 200) throw new Error(`setting up: modules answered ${modules.status} ${modules.body.message}`);
  await clients.writeStable(stable);
  await clients.settle();
  clients.crashing = true;
}

/** Runs `flows` at once; resolves when all have ended. */
async function together(...flows: Array<Promise<unknown>>): Promise<void> {
  await Promise.all(flows);
}

/** A split call, its answer noted: OK, or a refusal (409) the contract allows. */
async function split(clients: Clients, to: number): Promise<number> {
  const answer = await clients.request("PUT", `/admin/splitStorageUnit/${clients.unit}`, { shards: to });
  return answer.status;
}

async function splitTo(clients: Clients, to: number): Promise<void> {
  const status = await split(clients, to);
  if (status === 200) await clients.settle();
}

export const SCENARIOS: Scenario[] = [
  {
    name: "writes",
    about: "writers (add, delete, batch) on a unit of 1, 2 or 8 shards, with joins, reprocess/all, a module change and a walk, under crashes",
    crashRate: 0.01,
    async run(clients) {
      await setUp(clients, pick(clients, [1, 1, 2, 2, 8]), 3);
      const authors = ["a-stable", "w0-0", "w1-0"];
      await together(
        clients.writer("w0", 3, authors),
        clients.writer("w1", 3, authors),
        clients.checkedWalk(pick(clients, [2, 5])),
        clients.rng.chance(0.5) ? clients.request("POST", `/reprocess/all/${clients.unit}/books`) : Promise.resolve(),
        clients.rng.chance(0.3) ? clients.setModules(clients.rng.chance(0.5)) : Promise.resolve(),
      );
      await clients.settle();
    },
  },
  {
    name: "access",
    about:
      "grant, revoke and token rotation while users read, on a unit of 1, 2 or 8 shards: a revoked or rotated-out token reads nothing once the change answered OK",
    crashRate: 0.002,
    async run(clients) {
      await setUp(clients, pick(clients, [1, 1, 2, 2, 8]), 2);
      await accessRace(clients, async () => {});
    },
  },
  {
    name: "split",
    about:
      "a split 1 → 2 → 8 of a unit with records, a join and stable keys, a writer throughout (issue 17: a split that never ends; a report answered OK before shard 0 recorded the split)",
    crashRate: 0.002,
    async run(clients) {
      await setUp(clients, 1, 6);
      await together(
        splitTo(clients, 2).then(() => splitTo(clients, 8)),
        clients.writer("w0", 4, ["a-stable", "w0-0"]),
      );
      await clients.settle();
    },
  },
  {
    name: "writes-during-split",
    about:
      "writers (add, delete, batch) while a split runs, under crashes: none is refused, every acknowledged write is found on its key's owner (issue 17)",
    crashRate: 0.002,
    async run(clients) {
      await setUp(clients, pick(clients, [1, 2]), 6);
      const authors = ["a-stable", "w0-0", "w1-0"];
      await together(split(clients, 8), clients.writer("w0", 5, authors), clients.writer("w1", 5, authors));
      await clients.settle();
    },
  },
  {
    name: "concurrent-splits",
    about: "two split calls with different counts at once: one is refused 409, the unit ends on one layout (issue 21 row 2)",
    crashRate: 0,
    async run(clients) {
      const from = pick(clients, [1, 2]);
      await setUp(clients, from, 6);
      await together(split(clients, from * 2), split(clients, 8));
      await clients.settle();
    },
  },
  {
    name: "revoke-during-split",
    about: "a revoke and a token rotation made while a split starts reach the new shards (issue 21 row 1)",
    crashRate: 0,
    async run(clients) {
      const from = pick(clients, [1, 2]);
      await setUp(clients, from, 8);
      await accessRace(clients, () => split(clients, from * 4));
    },
  },
  {
    name: "page-during-split",
    about: "fetchPage walks overlapping a split see every key that existed throughout (issue 21 row 3)",
    crashRate: 0,
    async run(clients) {
      const from = pick(clients, [1, 2]);
      await setUp(clients, from, 12);
      await together(
        split(clients, 8),
        clients.checkedWalk(pick(clients, [1, 2, 3])),
        clients.yieldSteps(clients.rng.int(40)).then(() => clients.checkedWalk(2)),
      );
      await clients.settle();
    },
  },
  {
    name: "reprocess-during-split",
    about:
      "reprocess/all started during a split processes every key that existed throughout, and its run counts each once, listed or read alone (issue 21 row 4)",
    crashRate: 0,
    async run(clients) {
      const from = pick(clients, [1, 2]);
      await setUp(clients, from, 10);
      let started: { at: number; runId: string } | undefined;
      await together(
        split(clients, 8),
        clients.yieldSteps(clients.rng.int(40)).then(async () => {
          const answer = await clients.request("POST", `/reprocess/all/${clients.unit}/books`);
          if (answer.status === 200) started = { at: clients.now(), runId: String(answer.body.runId) };
        }),
      );
      await clients.settle();
      if (!started) return;
      clients.reprocessedSince = { at: started.at, keys: clients.stableKeys };
      await runCounted(clients, started.runId, clients.stableKeys.length);
    },
  },
  {
    name: "concurrent-creates",
    about: "two creates of one unit with different shard counts at once: one wins, and every shard agrees on its layout (issue 21 row 5)",
    crashRate: 0,
    async run(clients) {
      const [a, b] = await Promise.all([clients.create(2), clients.create(8)]);
      if (a.status !== 200 && b.status !== 200)
        clients.violations.push(`both creates refused: ${a.status} ${a.body.message}, ${b.status} ${b.body.message}`);
      const modules = await clients.setModules(true);
      if (modules.status !== 200)
        clients.violations.push(`the unit is unusable after the creates: modules answered ${modules.status} ${modules.body.message}`);
      await clients.writer("w0", 4, ["w0-0"]);
      const info = await clients.request("GET", `/admin/getStorageUnit/${clients.unit}`);
      if (info.status !== 200) clients.violations.push(`getStorageUnit answered ${info.status} ${info.body.message} after the creates`);
      await clients.settle();
    },
  },
];

/** The run `runId`, read alone and in the unit's list, has ended done with `keys` reached, each counted once. */
async function runCounted(clients: Clients, runId: string, keys: number): Promise<void> {
  const alone = await clients.request("GET", `/reprocess/run/${clients.unit}/${runId}`);
  const listed = await clients.request("GET", `/reprocess/runs/${clients.unit}?limit=100`);
  const inList = (listed.body.runs ?? []).find((run: { id: string }) => run.id === runId);
  for (const [how, run] of [
    ["read alone", alone.body.run],
    ["listed", inList],
  ] as const) {
    if (!run) clients.violations.push(`run ${runId} ${how}: not found (${alone.status}, ${listed.status})`);
    else if (run.state !== "done" || run.total !== keys || run.processed + run.failed !== keys)
      clients.violations.push(
        `run ${runId} ${how}: ${run.state}, total ${run.total}, processed ${run.processed}, failed ${run.failed}; expected done with ${keys} keys`,
      );
  }
}

/**
 * Users read while the admin revokes one and rotates another's token (and `during` runs):
 * each read started after the change answered OK must be refused, and afterwards the
 * rotated user's new token reads again.
 */
async function accessRace(clients: Clients, during: () => Promise<unknown>): Promise<void> {
  const victim = await clients.user("victim", "r");
  let rotor = await clients.user("rotor", "rw");
  const oldRotor = rotor;
  let revokedAt: number | undefined;
  let rotatedAt: number | undefined;
  let done = false;
  await together(
    (async () => {
      await clients.yieldSteps(clients.rng.int(30));
      const answer = await clients.revoke("victim");
      if (answer.status === 200) revokedAt = clients.now();
    })(),
    (async () => {
      await clients.yieldSteps(clients.rng.int(30));
      const token = await clients.rotate("rotor");
      if (token) {
        rotor = token;
        rotatedAt = clients.now();
      }
    })(),
    during(),
    clients.readAs(
      "victim",
      () => victim,
      () => revokedAt,
      () => done,
    ),
    clients.readAs(
      "rotor's old token",
      () => oldRotor,
      () => rotatedAt,
      () => done,
    ),
    clients.sleep(800).then(() => (done = true)),
  );
  await clients.settle();
  clients.crashing = false;
  for (const key of clients.stableKeys) {
    if (revokedAt !== undefined) {
      const read = await clients.request("GET", `/access/fetch/${clients.unit}/${key}`, undefined, victim);
      if (read.status === 200) clients.violations.push(`revoked user read ${key} after the unit settled`);
    }
    if (rotatedAt !== undefined) {
      const old = await clients.request("GET", `/access/fetch/${clients.unit}/${key}`, undefined, oldRotor);
      if (old.status === 200) clients.violations.push(`rotated-out token read ${key} after the unit settled`);
      const fresh = await clients.request("GET", `/access/fetch/${clients.unit}/${key}`, undefined, rotor);
      if (fresh.status !== 200) clients.violations.push(`rotated token refused on ${key}: ${fresh.status} ${fresh.body.message}`);
    }
  }
}

export function scenario(name: string): Scenario {
  const found = SCENARIOS.find((s) => s.name === name);
  if (!found) throw new Error(`no scenario '${name}'; one of ${SCENARIOS.map((s) => s.name).join(", ")}`);
  return found;
}
