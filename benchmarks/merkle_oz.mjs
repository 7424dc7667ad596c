// Times @openzeppelin/merkle-tree on the values in argv[2]: build, proofs by index, a multiproof.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { performance } from "node:perf_hooks";

const require = createRequire(path.join(process.cwd(), "package.json"));
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");

const { values, proofIndices, multiIndices } = JSON.parse(readFileSync(process.argv[2], "utf8"));
let t = performance.now();
const tree = StandardMerkleTree.of(values, ["address", "uint256"]);
const build = (performance.now() - t) / 1000;
t = performance.now();
const proofs = proofIndices.map((i) => tree.getProof(i));
const prove = (performance.now() - t) / 1000;
t = performance.now();
const multi = tree.getMultiProof(multiIndices);
const multiproof = (performance.now() - t) / 1000;
process.stdout.write(
  JSON.stringify({ root: tree.root, build, prove, multiproof, firstProof: proofs[0], multiLength: multi.proof.length }),
);
