#!/usr/bin/env node
/**
 * `npm run bench:compare -- <ref>`: the benchmarks on this working tree and on commit <ref>
 * in the same sitting, alternating run by run (a busy machine then slows both alike), with
 * the range of each figure and the ratio of their medians (this tree / ref), so a regression
 * shows before it lands.
 *
 * <ref> is checked out in a temporary git worktree with its own `npm ci`, removed at the end.
 * Figures: the Node server's ingest and drain (bench/drain-http.mjs, BENCH_RECORDS default
 * 100,000) and the in-process ingest and drain on 1 shard (`npm run bench`'s
 * bench/reprocess.bench.test.ts, BENCH_INPROCESS_RECORDS default 300,000). BENCH_ROUNDS
 * (default 3) rounds; BENCH_COMPARE=http or inprocess runs one kind only.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ref = process.argv[2];
if (!ref) {
  console.error("usage: npm run bench:compare -- <ref>   (a commit, branch or tag to compare this working tree with)");
  process.exit(2);
}
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const KINDS = (process.env.BENCH_COMPARE ?? "http,inprocess").split(",");
const INPROCESS_RECORDS = process.env.BENCH_INPROCESS_RECORDS ?? "300000";
const HERE = fileURLToPath(new URL("..", import.meta.url));

/** The in-process benchmark's output, as it is printed now and as it was (one shard, no table). */
const INPROCESS_FIGURES = {
  "in-process ingest, 1 shard (records/s)": [/ingest \(records\/s\)\s+([\d,]+)/, /([\d,]+) records\/s through transaction\/batch/],
  "in-process drain, 1 shard (items/s)": [/drain \(items\/s\)\s+([\d,]+)/, /throughput:\s+([\d,]+) items\/s/],
};

function checkout(commit) {
  const dir = mkdtempSync(join(tmpdir(), "restage-compare-"));
  execFileSync("git", ["worktree", "add", "--detach", dir, commit], { cwd: HERE, stdio: "inherit" });
  console.log(`npm ci in ${dir} ...`);
  execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, stdio: "inherit" });
  return dir;
}

/** One in-process run in checkout `root`: its own benchmark file and configuration. */
function inProcess(root) {
  const run = spawnSync(
    process.execPath,
    ["node_modules/vitest/vitest.mjs", "run", "--config", "vitest.bench.config.ts", "bench/reprocess.bench.test.ts"],
    {
      cwd: root,
      env: { ...process.env, BENCH_RECORDS: INPROCESS_RECORDS },
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const output = `${run.stdout}${run.stderr}`;
  const figures = {};
  for (const [name, patterns] of Object.entries(INPROCESS_FIGURES)) {
    const found = patterns.map((pattern) => pattern.exec(output)).find(Boolean);
    if (found) figures[name] = Number(found[1].replaceAll(",", ""));
  }
  if (Object.keys(figures).length === 0) console.error(`in-process benchmark in ${root} printed no figures:\n${output.slice(-2000)}`);
  return figures;
}

/** One Node-server run of this tree's drain script over both checkouts (it alternates them itself). */
function http(roots) {
  const run = spawnSync(process.execPath, [join(HERE, "bench/drain-http.mjs"), ...roots], {
    env: { ...process.env, BENCH_ROUNDS: "1", BENCH_JSON: "1" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const last = run.stdout.trim().split("\n").at(-1);
  const results = JSON.parse(last);
  return results.map((result) => ({
    "Node server ingest (records/s)": result.ingest[0],
    "Node server drain (items/s)": result.drain[0],
  }));
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const format = (n) => Math.round(n).toLocaleString("en-US");

const base = checkout(ref);
const figures = { tree: {}, ref: {} };
const note = (side, values) => {
  for (const [name, value] of Object.entries(values)) figures[side][name] = [...(figures[side][name] ?? []), value];
};
try {
  for (let round = 1; round <= ROUNDS; round++) {
    console.log(`round ${round} of ${ROUNDS}`);
    // the order within a round alternates too
    const sides =
      round % 2
        ? [
            ["ref", base],
            ["tree", HERE],
          ]
        : [
            ["tree", HERE],
            ["ref", base],
          ];
    if (KINDS.includes("http")) {
      const [first, second] = http(sides.map(([, root]) => root));
      note(sides[0][0], first);
      note(sides[1][0], second);
    }
    if (KINDS.includes("inprocess")) for (const [side, root] of sides) note(side, inProcess(root));
  }
} finally {
  execFileSync("git", ["worktree", "remove", "--force", base], { cwd: HERE, stdio: "inherit" });
  rmSync(base, { recursive: true, force: true });
}

console.log(`\nthis tree vs ${ref}, ${ROUNDS} rounds alternating (ranges; ratio of medians, this tree / ${ref}):`);
for (const name of Object.keys({ ...figures.tree, ...figures.ref })) {
  const tree = figures.tree[name] ?? [];
  const then = figures.ref[name] ?? [];
  const range = (values) => (values.length ? `${format(Math.min(...values))}–${format(Math.max(...values))}` : "n/a");
  const ratio = tree.length && then.length ? `${(median(tree) / median(then)).toFixed(2)}×` : "n/a";
  console.log(`${name.padEnd(40)} ${range(tree).padStart(19)}  vs ${range(then).padStart(19)}   ${ratio}`);
}
