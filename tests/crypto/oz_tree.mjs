// Reads a JSON list of requests on stdin; prints, for each, what @openzeppelin/merkle-tree computes.
//   {kind: "standard", values, encoding, sortLeaves, multi}  -> build with StandardMerkleTree.of
//   {kind: "simple", values, sortLeaves, multi}              -> build with SimpleMerkleTree.of
//   {kind: "standard" | "simple", load: <dump>, multi}       -> load a dump made in Python
// and answers {root, proofs, multiproof, dump, render}.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.cwd(), "package.json"));
const { StandardMerkleTree, SimpleMerkleTree } = require("@openzeppelin/merkle-tree");

function answer(request) {
  const Tree = request.kind === "simple" ? SimpleMerkleTree : StandardMerkleTree;
  const options = { sortLeaves: request.sortLeaves ?? true };
  let tree;
  if (request.load) {
    tree = Tree.load(request.load);
  } else if (request.kind === "simple") {
    tree = SimpleMerkleTree.of(request.values, options);
  } else {
    tree = StandardMerkleTree.of(request.values, request.encoding, options);
  }
  const proofs = [];
  for (let i = 0; i < tree.length; i++) proofs.push(tree.getProof(i));
  return {
    root: tree.root,
    proofs,
    multiproof: request.multi ? tree.getMultiProof(request.multi) : null,
    dump: tree.dump(),
    render: tree.render(),
  };
}

const requests = JSON.parse(readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(requests.map(answer)));
