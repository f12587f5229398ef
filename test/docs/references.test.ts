/**
 * Every file the README, docs/ and the source name exists in the repository: a citation
 * of a document (`API.md`, `DESIGN.md`, `../README.md`), a relative path in the prose
 * (`src/unit/queue.ts`, `test/sharded-*.test.ts`, `scripts/`) and a Markdown link. A
 * document named bare (`API.md, "Conventions"`) resolves to a file of that name anywhere
 * in the repository; a path resolves from the repository's root or from the citing file's
 * folder.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** Folders that hold no file of the project's own. */
const SKIPPED = new Set(["node_modules", ".git", "dist", "data", ".wrangler", "coverage"]);
/** Files the README tells the reader to create, so they are named before they exist. */
const TO_BE_CREATED = new Set(["src/modules/word-count.ts"]);
const TEXT = /\.(md|ts|tsx|mts|mjs|js|css|json|toml|ya?ml)$/;

function filesUnder(folder: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(ROOT, folder), { withFileTypes: true })) {
    if (SKIPPED.has(entry.name)) continue;
    const path = folder === "" ? entry.name : `${folder}/${entry.name}`;
    if (entry.isDirectory()) found.push(...filesUnder(path));
    else found.push(path);
  }
  return found;
}

const REPOSITORY = filesUnder("");
const BASENAMES = new Set(REPOSITORY.map((path) => path.slice(path.lastIndexOf("/") + 1)));

/** What a file names: documents (`*.md`), relative paths and Markdown link targets. */
function referencesIn(text: string, prose: boolean): string[] {
  const names = new Set<string>();
  // a document, bare or with its path; not part of a URL or of a longer path
  for (const match of text.matchAll(/(?<![\w/.:-])((?:\.{1,2}\/)*(?:[\w.-]+\/)*[\w.-]+\.md)\b/g)) names.add(match[1]!);
  if (prose) {
    // a path from the repository's root; one after a `/` is part of a URL (`/access/fetch/docs/k1`)
    for (const match of text.matchAll(/(?<![\w/.:-])((?:src|test|docs|scripts|bench)\/[\w.*/-]*)/g)) names.add(match[1]!.replace(/[.]+$/, ""));
    for (const match of text.matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)) if (!/^[a-z]+:/i.test(match[1]!)) names.add(match[1]!);
  }
  return [...names];
}

/** Whether `name`, cited in `from`, is a file or folder of the repository. */
function resolves(name: string, from: string): boolean {
  if (TO_BE_CREATED.has(name)) return true;
  if (!name.includes("/")) return BASENAMES.has(name);
  if (name.includes("*")) {
    const pattern = new RegExp(`^${name.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}`);
    return REPOSITORY.some((path) => pattern.test(path));
  }
  return [ROOT, join(ROOT, dirname(from))].some((base) => existsSync(join(base, name)));
}

/** The files whose references are checked: the README, docs/ and the source. */
function citingFiles(): Array<{ path: string; prose: boolean }> {
  const documents = ["README.md", ...REPOSITORY.filter((path) => path.startsWith("docs/") && path.endsWith(".md"))];
  const source = REPOSITORY.filter((path) => path.startsWith("src/") && TEXT.test(path) && statSync(join(ROOT, path)).size < 1_000_000);
  return [...documents.map((path) => ({ path, prose: true })), ...source.map((path) => ({ path, prose: false }))];
}

describe("references to files", () => {
  it("finds each kind of reference, and none in a URL path", () => {
    const text =
      'API.md, "Conventions"; see [DESIGN.md](DESIGN.md) and ../README.md; `src/unit/queue.ts`, test/sharded-*.test.ts and scripts/; curl http://127.0.0.1:8787/access/fetch/docs/doc-1 and /docs/raw; https://example.com/x/README.md';
    expect(referencesIn(text, true).sort()).toEqual(
      ["../README.md", "API.md", "DESIGN.md", "scripts/", "src/unit/queue.ts", "test/sharded-*.test.ts"].sort(),
    );
    expect(referencesIn(text, false).sort()).toEqual(["../README.md", "API.md", "DESIGN.md"].sort());
  });

  it("the README links the contract and the design under docs/", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    expect(readme).toContain("(docs/API.md)");
    expect(readme).toContain("(docs/DESIGN.md)");
  });

  it("every file the README, docs/ and src/ name exists", () => {
    const broken: string[] = [];
    for (const { path, prose } of citingFiles()) {
      const text = readFileSync(join(ROOT, path), "utf8");
      for (const name of referencesIn(text, prose)) if (!resolves(name, path)) broken.push(`${path}: ${name}`);
    }
    expect(broken, `names of files that do not exist (from ${relative(process.cwd(), ROOT) || "."})`).toEqual([]);
  });
});
