#!/usr/bin/env node
// Makes solc-js (npm `solc`) answer like the native solc binary, so forge compiles offline:
//   solc-wrapper.mjs --version
//   solc-wrapper.mjs --standard-json [--base-path P] [--include-path P] [--allow-paths A,B] < input.json
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const solc = require("solc");

const args = process.argv.slice(2);

if (args.includes("--version")) {
  // forge parses "Version: X.Y.Z+commit.HASH"; report the platform of a native build
  const version = solc.version().replace(/\.Emscripten\.clang$/, ".Linux.g++");
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${version}\n`);
  process.exit(0);
}

if (!args.includes("--standard-json")) {
  process.stderr.write("solc-wrapper: only --version and --standard-json are supported\n");
  process.exit(2);
}

function option(name) {
  const values = [];
  args.forEach((arg, i) => {
    if (arg === name && i + 1 < args.length) values.push(args[i + 1]);
  });
  return values;
}

const roots = [...option("--base-path"), ...option("--include-path"), process.cwd()];
const allowed = option("--allow-paths").flatMap((list) => list.split(",")).map((p) => path.resolve(p));

// Forge sends every source's content; this callback only serves imports it did not.
function findImports(importPath) {
  for (const root of roots) {
    const candidate = path.resolve(root, importPath);
    const permitted = [...roots.map((r) => path.resolve(r)), ...allowed].some(
      (dir) => candidate === dir || candidate.startsWith(dir + path.sep),
    );
    if (!permitted) continue;
    try {
      return { contents: readFileSync(candidate, "utf8") };
    } catch {
      // try the next root
    }
  }
  return { error: `File not found: ${importPath}` };
}

const input = readFileSync(0, "utf8");
process.stdout.write(solc.compile(input, { import: findImports }));
