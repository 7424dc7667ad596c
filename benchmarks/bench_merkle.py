"""Merkle tree of N (address, uint256) leaves: proofmind vs npm @openzeppelin/merkle-tree.

Both build the same tree from the same values in the same run; the roots must match.
Usage: python benchmarks/bench_merkle.py [--leaves 1000000] [--proofs 1000]
"""

from __future__ import annotations

import argparse
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

from proofmind.crypto.merkle import StandardMerkleTree

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=1_000)
    parser.add_argument("--multi", type=int, default=100, help="rows in the multiproof")
    args = parser.parse_args()
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "@openzeppelin" / "merkle-tree").is_dir():
        print("node and node_modules are needed: run `npm ci`", file=sys.stderr)
        return 2

    rng = random.Random(7)
    values = [
        ["0x" + rng.randbytes(20).hex(), str(rng.getrandbits(96))] for _ in range(args.leaves)
    ]
    proof_indices = [rng.randrange(args.leaves) for _ in range(args.proofs)]
    multi_indices = sorted(rng.sample(range(args.leaves), args.multi))

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(
            {"values": values, "proofIndices": proof_indices, "multiIndices": multi_indices}, handle
        )
        data_file = handle.name
    js_run = subprocess.run(
        [node, "--max-old-space-size=8192", str(ROOT / "benchmarks" / "merkle_oz.mjs"), data_file],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    Path(data_file).unlink()
    js = json.loads(js_run.stdout)

    rows = [[address, int(amount)] for address, amount in values]
    started = time.perf_counter()
    tree = StandardMerkleTree.of(rows, ["address", "uint256"])
    py_build = time.perf_counter() - started
    started = time.perf_counter()
    proofs = [tree.get_proof(i) for i in proof_indices]
    py_prove = time.perf_counter() - started
    started = time.perf_counter()
    tree.get_multiproof(multi_indices)
    py_multi = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    assert tree.root_hex == js["root"], "roots differ: the trees are not compatible"
    assert ["0x" + p.hex() for p in proofs[0]] == js["firstProof"]

    node_version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    print(
        f"Merkle tree, {args.leaves:,} leaves (address, uint256) — "
        f"Python {platform.python_version()}, node {node_version}"
    )
    print(f"root {tree.root_hex} (equal in both)")
    print(f"{'step':<28}{'proofmind':>12}{'OZ (JS)':>12}{'JS / py':>10}")
    for step, ours, theirs in (
        ("build tree", py_build, js["build"]),
        (f"{args.proofs:,} proofs by index", py_prove, js["prove"]),
        (f"multiproof of {args.multi} rows", py_multi, js["multiproof"]),
    ):
        print(f"{step:<28}{ours:>11.3f}s{theirs:>11.3f}s{theirs / ours:>9.1f}×")
    print(f"peak RSS of the Python process: {peak_mb:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
