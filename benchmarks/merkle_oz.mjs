// Times npm @openzeppelin/merkle-tree on the (address, uint256) rows in the JSON file argv[2]:
// StandardMerkleTree.of, getProof for each index asked (twice), one getMultiProof. Prints JSON.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { performance } from "node:perf_hooks";

const require = createRequire(path.join(process.cwd(), "package.json"));
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");
const { version } = require("@openzeppelin/merkle-tree/package.json");

const input = JSON.parse(readFileSync(process.argv[2], "utf8"));
// amounts arrive as decimal strings; BigInt is what a JS caller would hold, so convert untimed
const values = input.values.map(([account, amount]) => [account, BigInt(amount)]);

let started = performance.now();
const tree = StandardMerkleTree.of(values, ["address", "uint256"]);
const build = (performance.now() - started) / 1000;

started = performance.now();
const proofs = input.proofIndices.map((i) => tree.getProof(i));
const prove = (performance.now() - started) / 1000;

started = performance.now();
input.proofIndices.map((i) => tree.getProof(i));
const proveAgain = (performance.now() - started) / 1000;

started = performance.now();
const multiproof = tree.getMultiProof(input.multiIndices);
const multi = (performance.now() - started) / 1000;

process.stdout.write(
  JSON.stringify({
    version,
    root: tree.root,
    build,
    prove,
    proveAgain,
    multi,
    firstProof: proofs[0],
    multiproof: { proof: multiproof.proof, proofFlags: multiproof.proofFlags },
  }),
);
