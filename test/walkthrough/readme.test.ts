/**
 * The README's curl walkthroughs, run as written against a fresh self-hosted Node server:
 * each ```sh block after a `<!-- walkthrough -->` mark, command by command, in order, with
 * `.dev.vars` holding the admin token in the folder they run from (as `npm run dev` leaves
 * it) and the README's http://127.0.0.1:8787 pointed at the server. Each command's output is
 * compared with the `# {...}` answer shown under it (or at the end of its line): `…` and `...`
 * stand for anything; an answer without them is compared as JSON, in any key order. A
 * command shown without an answer must answer `{"message":"OK", ...}`. Between commands the
 * runner waits until the job has run what the last one queued, as it has for a person typing.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchServer, type ServerHandle } from "../e2e/servers";

const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const README_URL = "http://127.0.0.1:8787";

interface Step {
  command: string;
  /** the answer shown for it, if any */
  answer?: string;
}

/** The marked blocks, each as its commands with their answers. */
function walkthroughs(): Array<{ heading: string; steps: Step[] }> {
  const blocks: Array<{ heading: string; steps: Step[] }> = [];
  for (const match of README.matchAll(/<!-- walkthrough -->\n```sh\n([\s\S]*?)\n```/g)) {
    const heading = [...README.slice(0, match.index).matchAll(/^#+ (.+)$/gm)].at(-1)?.[1] ?? "";
    blocks.push({ heading, steps: stepsOf(match[1]!) });
  }
  return blocks;
}

/** The JSON of a `# {...}` comment, without the prose after it. */
const answerIn = (comment: string) => comment.slice(comment.indexOf("{"), comment.lastIndexOf("}") + 1);

function stepsOf(block: string): Step[] {
  const steps: Step[] = [];
  let open: string[] = [];
  for (const line of block.split("\n")) {
    if (open.length === 0 && /^\s*#/.test(line)) {
      // a comment line: the answer of the command above, or prose
      if (/^\s*#\s*\{/.test(line)) steps.at(-1)!.answer = answerIn(line);
      continue;
    }
    if (open.length === 0 && line.trim() === "") continue;
    open.push(line);
    if (/[\\|]\s*$/.test(line)) continue;
    const inline = / # (\{.*)$/.exec(line);
    steps.push({ command: open.join("\n"), answer: inline ? answerIn(inline[1]!) : undefined });
    open = [];
  }
  return steps;
}

/** Whether `actual` is the answer shown: wildcards `…`/`...` match anything; otherwise equal as JSON. */
function isShownAnswer(shown: string, actual: string): boolean {
  const parts = shown.split(/…|\.\.\./);
  if (parts.length === 1) {
    try {
      return isDeepStrictEqual(JSON.parse(shown), JSON.parse(actual));
    } catch {
      return false;
    }
  }
  const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${parts.map(escapeRegExp).join("[\\s\\S]*")}$`).test(actual.trim());
}

let server: ServerHandle;
let dataDir: string;
let workDir: string;
const TOKEN = `readme-${Math.random().toString(36).slice(2)}`;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "restage-readme-data-"));
  workDir = mkdtempSync(join(tmpdir(), "restage-readme-"));
  writeFileSync(join(workDir, ".dev.vars"), `ADMIN_TOKEN=${TOKEN}\n`);
  server = await launchServer("node", { dataDir, token: TOKEN });
});

afterAll(async () => {
  await server?.stop();
  for (const dir of [dataDir, workDir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The shell variables the walkthroughs set, carried from one command to the next. */
const VARIABLES = [...new Set([...README.matchAll(/^(?:export )?([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]!))];

/** Runs one command in bash with the variables the commands before it set; returns its output. */
function run(command: string): { output: string; status: number | null; stderr: string } {
  const state = join(workDir, ".variables");
  const script = `[ -f ${state} ] && . ${state}\n${command.replaceAll(README_URL, server.url)}\ndeclare -p ${VARIABLES.join(" ")} > ${state} 2>/dev/null || true\n`;
  const result = spawnSync("bash", ["-c", script], { cwd: workDir, encoding: "utf8", timeout: 30_000 });
  return { output: result.stdout, status: result.status, stderr: result.stderr };
}

/** Waits until no unit has work queued or running (a paused unit's queue waits for resume). */
async function settle(): Promise<void> {
  const headers = { authorization: `Bearer ${TOKEN}` };
  const deadline = Date.now() + 20_000;
  for (;;) {
    const units = (await (await fetch(`${server.url}/admin/listStorageUnits`, { headers })).json()) as { storageUnits: Array<{ name: string }> };
    const statuses = await Promise.all(
      units.storageUnits.map(
        async ({ name }) =>
          (await (await fetch(`${server.url}/reprocess/status/${name}`, { headers })).json()) as {
            paused: boolean;
            filling: boolean;
            pending: number;
            assigned: number;
          },
      ),
    );
    const busy = statuses.filter((s) => !s.paused && (s.filling || s.pending > 0 || s.assigned > 0));
    if (busy.length === 0) return;
    if (Date.now() > deadline) throw new Error(`the job did not finish: ${JSON.stringify(busy)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("the README's walkthroughs", () => {
  const blocks = walkthroughs();

  it("are marked in the README: the round trip, reprocessing, schedules, sharded units, users and grants", () => {
    expect(blocks.map((block) => block.heading)).toEqual([
      "A round trip with curl",
      "Reprocessing",
      "Scheduled reprocessing",
      "Sharded units with curl",
      "Users and grants with curl",
    ]);
    expect(blocks.every((block) => block.steps.some((step) => step.answer))).toBe(true);
  });

  it("give the answers they show, run in order against a fresh server", async () => {
    const mismatches: string[] = [];
    for (const { heading, steps } of blocks) {
      for (const { command, answer } of steps) {
        const { output, status, stderr } = run(command);
        const where = `[${heading}] ${command}`;
        if (status !== 0) mismatches.push(`${where}\n  exited ${status}: ${stderr}`);
        else if (answer !== undefined && !isShownAnswer(answer, output)) mismatches.push(`${where}\n  shows:   ${answer}\n  answers: ${output}`);
        else if (answer === undefined && output.trim() !== "" && !/^\{"message":"OK"[,}]/.test(output))
          mismatches.push(`${where}\n  answers: ${output}`);
        await settle();
      }
    }
    expect(mismatches.join("\n\n")).toBe("");
  });
});
