#!/usr/bin/env node
// Compiles contracts/src/**/*.sol with solc-js (standard JSON, fixed settings) and writes one
// stamped artifact per deployable contract to src/proofmind/artifacts/contracts/.
//   node scripts/compile_contracts.mjs           write the artifacts
//   node scripts/compile_contracts.mjs --check   exit 1 if the committed artifacts are stale
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const solc = require("solc");

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SRC = "contracts/src";
const OUT = path.join(ROOT, "src/proofmind/artifacts/contracts");
const KEEP = new Set(["__init__.py", "index.json"]);

// Fixed settings: the same sources always give the same bytes (foundry.toml matches these).
export const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  metadata: { bytecodeHash: "none", appendCBOR: false },
  remappings: [
    "@openzeppelin/contracts/=node_modules/@openzeppelin/contracts/",
    "@safe-global/safe-contracts/=node_modules/@safe-global/safe-contracts/",
  ],
};

// Contracts from npm packages that proofmind deploys itself (the devnet's Safe for guarded
// agents): compiled with the same settings and shipped as artifacts like ours.
const EXTERNAL = [
  "node_modules/@safe-global/safe-contracts/contracts/Safe.sol",
  "node_modules/@safe-global/safe-contracts/contracts/proxies/SafeProxyFactory.sol",
];

function solidityFiles(dir) {
  return readdirSync(path.join(ROOT, dir))
    .sort()
    .flatMap((name) => {
      const rel = `${dir}/${name}`;
      if (statSync(path.join(ROOT, rel)).isDirectory()) return solidityFiles(rel);
      return name.endsWith(".sol") ? [rel] : [];
    });
}

function findImports(importPath) {
  const file = path.join(ROOT, importPath);
  if (!file.startsWith(ROOT + path.sep) || !existsSync(file)) {
    return { error: `File not found: ${importPath} (run \`npm ci\` for the npm contract packages)` };
  }
  return { contents: readFileSync(file, "utf8") };
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys(value[k])]));
  }
  return value;
}

const stable = (value) => `${JSON.stringify(sortKeys(value), null, 2)}\n`;

function compile() {
  const files = [...solidityFiles(SRC), ...EXTERNAL];
  const input = {
    language: "Solidity",
    sources: Object.fromEntries(
      files.map((f) => [f, { content: readFileSync(path.join(ROOT, f), "utf8") }]),
    ),
    settings: {
      ...SETTINGS,
      outputSelection: {
        "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "evm.methodIdentifiers"] },
      },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const errors = (output.errors ?? []).filter((e) => e.severity === "error");
  for (const e of output.errors ?? []) process.stderr.write(e.formattedMessage);
  if (errors.length > 0) {
    process.stderr.write(`compilation failed with ${errors.length} error(s)\n`);
    process.exit(1);
  }
  // sha256 over every source unit that went into the build (ours and imported OZ files),
  // sorted by path: "path\0content\0" each
  const hash = createHash("sha256");
  for (const unit of Object.keys(output.sources).sort()) {
    const content = input.sources[unit]?.content ?? findImports(unit).contents;
    hash.update(`${unit}\0${content}\0`);
  }
  const sourceHash = `0x${hash.digest("hex")}`;
  const compiler = { name: "solc-js", version: solc.version() };

  const artifacts = new Map();
  for (const file of files) {
    for (const [name, contract] of Object.entries(output.contracts[file] ?? {})) {
      if (!contract.evm.bytecode.object) continue; // interfaces and abstract contracts
      if (artifacts.has(`${name}.json`)) {
        process.stderr.write(`two contracts are named ${name}; names must be unique\n`);
        process.exit(1);
      }
      artifacts.set(
        `${name}.json`,
        stable({
          contractName: name,
          sourcePath: file,
          abi: contract.abi,
          bytecode: `0x${contract.evm.bytecode.object}`,
          deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
          methodIdentifiers: contract.evm.methodIdentifiers,
          compiler,
          settings: SETTINGS,
          sourceHash,
        }),
      );
    }
  }
  const names = [...artifacts.keys()].map((f) => f.replace(/\.json$/, "")).sort();
  artifacts.set("index.json", stable({ compiler, settings: SETTINGS, sourceHash, contracts: names }));
  return artifacts;
}

const artifacts = compile();
const present = existsSync(OUT) ? readdirSync(OUT).filter((f) => f.endsWith(".json")) : [];

if (process.argv.includes("--check")) {
  const problems = [];
  for (const [file, text] of artifacts) {
    const target = path.join(OUT, file);
    if (!existsSync(target)) problems.push(`missing: ${file}`);
    else if (readFileSync(target, "utf8") !== text) problems.push(`stale: ${file}`);
  }
  for (const file of present) if (!artifacts.has(file)) problems.push(`extra: ${file}`);
  if (problems.length > 0) {
    process.stderr.write(
      `contract artifacts are out of date with contracts/src:\n  ${problems.join("\n  ")}\n` +
        "regenerate them with `make compile` (node scripts/compile_contracts.mjs) and commit them\n",
    );
    process.exit(1);
  }
  process.stdout.write(`${artifacts.size - 1} contract artifact(s) are current\n`);
} else {
  mkdirSync(OUT, { recursive: true });
  for (const [file, text] of artifacts) writeFileSync(path.join(OUT, file), text);
  for (const file of present) {
    if (!artifacts.has(file) && !KEEP.has(file)) {
      process.stderr.write(`note: ${file} no longer has a source; delete it\n`);
    }
  }
  process.stdout.write(`wrote ${artifacts.size - 1} contract artifact(s) to ${path.relative(ROOT, OUT)}\n`);
}
