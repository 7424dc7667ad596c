// Reads {values, encoding, multi} on stdin; prints what @openzeppelin/merkle-tree computes.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.cwd(), "package.json"));
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");

const input = JSON.parse(readFileSync(0, "utf8"));
const tree = StandardMerkleTree.of(input.values, input.encoding);
const out = {
  root: tree.root,
  proofs: input.values.map((_, i) => tree.getProof(i)),
  multiproof: input.multi ? tree.getMultiProof(input.multi) : null,
  dump: tree.dump(),
};
process.stdout.write(JSON.stringify(out));
