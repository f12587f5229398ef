#!/usr/bin/env node
// Builds the typed client (`restage/client`, src/client) into packages/client/dist: one ES
// module (esbuild; hono stays an import, the package's one dependency) and its declarations
// (TypeScript). The declarations stand alone: src/client/server-types.ts, the client's one
// door to the server's types, is written out with every type spelt in full, the way Hono's
// docs compile a client's type ahead of time, so a project that installs the package needs
// no workers-types, DOM or JSX, and its tsc does not re-infer the app. Run by `npm run
// typecheck` (test/client-types.test.ts checks the built types) and by the packaging test.
import { build } from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = fileURLToPath(new URL("..", import.meta.url));
const source = join(root, "src/client");
const packageDir = join(root, "packages/client");
const out = join(packageDir, "dist");
const BRIDGE = join(source, "server-types.ts");

/** Writes packages/client/dist; throws with tsc's messages when the client does not compile. */
export async function buildClient() {
  checkDependencies();
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  await build({
    absWorkingDir: root,
    entryPoints: ["src/client/index.ts"],
    outfile: join(out, "index.js"),
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    external: ["hono", "hono/*"],
    logLevel: "warning",
  });
  writeDeclarations();
  checkDeclarations();
}

/** The package's hono is the server's: the types the client spells out come from it. */
function checkDependencies() {
  const wanted = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).dependencies.hono;
  const declared = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")).dependencies?.hono;
  if (declared !== wanted) throw new Error(`packages/client/package.json must depend on hono ${wanted} (the server's), not ${declared}`);
}

function writeDeclarations() {
  const config = ts.getParsedCommandLineOfConfigFile(join(root, "tsconfig.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: fail });
  const files = ts.sys.readDirectory(source, [".ts"]).filter((file) => !file.endsWith(".d.ts"));
  const options = { ...config.options, noEmit: false, declaration: true, emitDeclarationOnly: true, allowImportingTsExtensions: false };
  const program = ts.createProgram({ rootNames: files, options });
  const sources = files.map((file) => program.getSourceFile(file));
  const problems = sources.flatMap((file) => ts.getPreEmitDiagnostics(program, file));
  if (problems.length > 0) fail(problems);

  for (const file of sources.filter((file) => file.fileName !== BRIDGE)) {
    const emitted = program.emit(file, (name, text) => name.endsWith(".d.ts") && writeFileSync(join(out, basename(name)), text), undefined, true);
    if (emitted.diagnostics.length > 0) fail(emitted.diagnostics);
  }
  writeFileSync(join(out, "server-types.d.ts"), spelt(program, program.getSourceFile(BRIDGE)));
}

/**
 * The declaration of server-types.ts with each exported type alias expanded: the checker's
 * own printing of the type, in full, where tsc's declaration emit would name the server's
 * types. Names it still prints come from hono only; anything else fails the build.
 */
function spelt(program, file) {
  const checker = program.getTypeChecker();
  const flags =
    ts.NodeBuilderFlags.NoTruncation |
    ts.NodeBuilderFlags.InTypeAlias |
    ts.NodeBuilderFlags.MultilineObjectLiterals |
    ts.NodeBuilderFlags.IgnoreErrors;
  const printer = ts.createPrinter();
  const parts = ["// built from src/client/server-types.ts by scripts/build-client.mjs: do not edit"];
  const exported = (statement) =>
    ts.isTypeAliasDeclaration(statement) && statement.modifiers?.some(({ kind }) => kind === ts.SyntaxKind.ExportKeyword);
  for (const statement of file.statements.filter(exported)) {
    const node = checker.typeToTypeNode(checker.getTypeAtLocation(statement.name), file, flags);
    const text = printer.printNode(ts.EmitHint.Unspecified, node, file);
    const doc = ts.getJSDocCommentsAndTags(statement).map((comment) => comment.getText(file));
    parts.push(`${doc.join("\n")}\nexport type ${statement.name.text} = ${text};`);
  }
  const declaration = `${parts.join("\n\n")}\n`.replace(/import\("[^"]*\/node_modules\/hono\/dist\/types\/([^"]+)"\)/g, 'import("hono/$1")');
  const foreign = [...declaration.matchAll(/import\("([^"]+)"\)/g)].map(([, from]) => from).filter((from) => !from.startsWith("hono/"));
  if (foreign.length > 0)
    throw new Error(`src/client/server-types.ts: a type names ${[...new Set(foreign)].join(", ")}; spell it out or take it from hono`);
  return declaration;
}

/**
 * The built declarations compile on their own, strictly, checked as a library (no
 * skipLibCheck), with Node's types and no DOM: a type the build left named, or one only
 * the DOM or workers-types declares, fails here rather than in a user's project.
 */
function checkDeclarations() {
  const options = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ["lib.es2023.d.ts"],
    types: ["node"],
    typeRoots: [join(root, "node_modules/@types")],
  };
  const problems = ts.getPreEmitDiagnostics(ts.createProgram({ rootNames: [join(out, "index.d.ts")], options }));
  if (problems.length > 0) fail(problems);
}

function fail(diagnostics) {
  const host = { getCanonicalFileName: (name) => name, getCurrentDirectory: () => root, getNewLine: () => "\n" };
  throw new Error(ts.formatDiagnostics([diagnostics].flat(), host));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    await buildClient();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
