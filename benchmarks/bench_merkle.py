"""Merkle tree of N (address, uint256) rows: proofmind against npm @openzeppelin/merkle-tree.

Both sides get the same rows in the same run (JS reads them from a file this script writes);
each builds its tree, makes proofs for the same row indices and one multiproof. The roots,
the first proof and the multiproof must be identical, or the script fails.

Usage: python benchmarks/bench_merkle.py [--leaves 1000000] [--proofs 1000] [--multi 100]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from proofmind.crypto.merkle import MerkleTree, StandardMerkleTree, leaf_hashes

ROOT = Path(__file__).resolve().parents[1]
ENCODING = ["address", "uint256"]


def make_rows(count: int, seed: int) -> list[list[Any]]:
    rng = random.Random(seed)
    return [["0x" + rng.randbytes(20).hex(), rng.getrandbits(96)] for _ in range(count)]


def run_openzeppelin(node: str, rows: list[list[Any]], job: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        data_file = Path(folder) / "rows.json"
        as_json = [[account, str(amount)] for account, amount in rows]
        data_file.write_text(json.dumps({"values": as_json, **job}))
        helper = ROOT / "benchmarks" / "merkle_oz.mjs"
        completed = subprocess.run(
            [node, "--max-old-space-size=12288", str(helper), str(data_file)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    if completed.returncode != 0:
        raise SystemExit(f"node failed:\n{completed.stderr}")
    answer: dict[str, Any] = json.loads(completed.stdout)
    return answer


def timed(action: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=1_000, help="single proofs to make")
    parser.add_argument("--multi", type=int, default=100, help="rows in the multiproof")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "@openzeppelin" / "merkle-tree").is_dir():
        print("node and node_modules/@openzeppelin/merkle-tree are needed: run `npm ci`")
        return 2

    rows = make_rows(args.leaves, args.seed)
    rng = random.Random(args.seed + 1)
    proof_indices = [rng.randrange(args.leaves) for _ in range(args.proofs)]
    multi_indices = rng.sample(range(args.leaves), min(args.multi, args.leaves))
    job = {"proofIndices": proof_indices, "multiIndices": multi_indices}

    print(f"running @openzeppelin/merkle-tree on {args.leaves:,} rows ...", flush=True)
    js = run_openzeppelin(node, rows, job)

    print("running proofmind ...", flush=True)
    gc.collect()
    tree, py_build = timed(lambda: StandardMerkleTree.of(rows, ENCODING))
    proofs, py_prove = timed(lambda: [tree.get_proof(i) for i in proof_indices])
    # the first batch after a build also pays for the garbage collector's first pass over
    # the new tree (once per tree); the second batch shows the steady state
    _, py_prove_again = timed(lambda: [tree.get_proof(i) for i in proof_indices])
    multiproof, py_multi = timed(lambda: tree.get_multiproof(multi_indices))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # where the build time goes, measured again step by step
    hashes, py_leaves = timed(lambda: leaf_hashes(ENCODING, rows))
    _, py_tree = timed(lambda: MerkleTree.of(hashes))

    def hexes(nodes: list[bytes]) -> list[str]:
        return ["0x" + node.hex() for node in nodes]

    if tree.root_hex != js["root"]:
        raise SystemExit(f"roots differ: proofmind {tree.root_hex}, OZ {js['root']}")
    if hexes(proofs[0]) != js["firstProof"]:
        raise SystemExit("the first proofs differ")
    if [hexes(multiproof.proof), multiproof.proof_flags] != [
        js["multiproof"]["proof"],
        js["multiproof"]["proofFlags"],
    ]:
        raise SystemExit("the multiproofs differ")

    node_version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    print()
    print(
        f"Merkle tree of {args.leaves:,} (address, uint256) rows; Python "
        f"{platform.python_version()}, node {node_version}, "
        f"@openzeppelin/merkle-tree {js['version']}"
    )
    print(f"root {tree.root_hex}: equal on both sides, as are the first proof and the multiproof")
    print()
    print(f"| {'step':<36} | {'proofmind':>10} | {'OZ (JS)':>10} | {'JS / proofmind':>14} |")
    print(f"|{'-' * 38}|{'-' * 11}:|{'-' * 11}:|{'-' * 15}:|")
    for step, ours, theirs in (
        ("build the tree (hash, sort, build)", py_build, js["build"]),
        (f"{args.proofs:,} proofs by row index", py_prove, js["prove"]),
        (f"the same {args.proofs:,} proofs again", py_prove_again, js["proveAgain"]),
        (f"one multiproof of {len(multi_indices)} rows", py_multi, js["multi"]),
    ):
        print(f"| {step:<36} | {ours:>9.3f}s | {theirs:>9.3f}s | {theirs / ours:>13.1f}× |")
    print()
    print(
        f"proofmind build, step by step: leaf hashes {py_leaves:.2f} s, "
        f"sort + inner nodes {py_tree:.2f} s; peak RSS {peak_mb:,.0f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
