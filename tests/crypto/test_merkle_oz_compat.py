"""Byte-for-byte agreement with npm @openzeppelin/merkle-tree, run in node.

For the same values, both sides give the same root, proofs, multiproof (in the same order),
render() text and JSON dump; each side loads the other's dump. All requests go to one node
process (tests/crypto/oz_tree.mjs).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from proofmind.crypto.merkle import MerkleTree, StandardMerkleTree

pytestmark = pytest.mark.node

HELPER = Path(__file__).with_name("oz_tree.mjs")


def find_repo_root() -> Path:
    for folder in Path(__file__).resolve().parents:
        if (folder / "pyproject.toml").is_file():
            return folder
    raise RuntimeError("no pyproject.toml above the tests")


def run_openzeppelin(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    repo_root = find_repo_root()
    node = shutil.which("node")
    if node is None:
        pytest.skip("`node` is not on PATH: install Node.js 20+ to run the OZ compatibility tests")
    if not (repo_root / "node_modules" / "@openzeppelin" / "merkle-tree").is_dir():
        pytest.skip(f"{repo_root}/node_modules/@openzeppelin/merkle-tree is missing: run `npm ci`")
    result = subprocess.run(
        [node, str(HELPER)],
        cwd=repo_root,
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answers: list[dict[str, Any]] = json.loads(result.stdout)
    return answers


def hexes(nodes: list[bytes]) -> list[str]:
    return ["0x" + n.hex() for n in nodes]


def address(rng: random.Random) -> str:
    return "0x" + rng.randbytes(20).hex()


Make = Callable[[random.Random], list[Any]]
ENCODINGS: dict[str, tuple[list[str], Make]] = {
    "address,uint256": (["address", "uint256"], lambda r: [address(r), str(r.getrandbits(256))]),
    "bytes32": (["bytes32"], lambda r: ["0x" + r.randbytes(32).hex()]),
    "string,uint256,bool": (
        ["string", "uint256", "bool"],
        lambda r: [f"row-{r.random()}", str(r.getrandbits(64)), r.random() < 0.5],
    ),
    "address,uint96,bool,bytes4,int8": (
        ["address", "uint96", "bool", "bytes4", "int8"],
        lambda r: [
            address(r).upper().replace("0X", "0x"),
            str(r.getrandbits(96)),
            r.random() < 0.5,
            "0x" + r.randbytes(4).hex(),
            str(r.randint(-128, 127)),
        ],
    ),
    "int256,bytes,uint8[]": (
        ["int256", "bytes", "uint8[]"],
        lambda r: [
            str(r.randint(-(2**255), 2**255 - 1)),
            "0x" + r.randbytes(r.randint(0, 40)).hex(),
            [str(r.randint(0, 255)) for _ in range(r.randint(0, 4))],
        ],
    ),
    "(uint256,address),string[]": (
        ["(uint256,address)", "string[]"],
        lambda r: [[str(r.getrandbits(128)), address(r)], [str(r.random())] * r.randint(0, 2)],
    ),
}
SIZES = [1, 2, 3, 7, 64]


def pick_multi(rng: random.Random, size: int) -> list[int]:
    k = rng.choice([0, 1, min(3, size), size])
    return rng.sample(range(size), k=k)  # unsorted on purpose: OZ orders them itself


def standard_cases() -> list[str]:
    return [f"{e}|{n}|{s}" for e in ENCODINGS for n in SIZES for s in ("sorted", "unsorted")]


def simple_cases() -> list[str]:
    return [f"simple|{n}|{s}" for n in SIZES for s in ("sorted", "unsorted")]


def build_case(case: str) -> tuple[Any, dict[str, Any]]:
    """The Python tree of a case and the request asking OZ to build the same tree."""
    encoding_name, size_text, order = case.split("|")
    size, sort_leaves = int(size_text), order == "sorted"
    rng = random.Random(case)
    request: dict[str, Any] = {"sortLeaves": sort_leaves, "multi": pick_multi(rng, size)}
    tree: StandardMerkleTree | MerkleTree
    if encoding_name == "simple":
        values = ["0x" + rng.randbytes(32).hex() for _ in range(size)]
        tree = MerkleTree.of([bytes.fromhex(v[2:]) for v in values], sort_leaves=sort_leaves)
        request |= {"kind": "simple", "values": values}
    else:
        encoding, make = ENCODINGS[encoding_name]
        values = [make(rng) for _ in range(size)]
        tree = StandardMerkleTree.of(values, encoding, sort_leaves=sort_leaves)
        request |= {"kind": "standard", "values": values, "encoding": encoding}
    return tree, request


@pytest.fixture(scope="module")
def openzeppelin() -> dict[str, tuple[Any, dict[str, Any], dict[str, Any]]]:
    """case -> (Python tree, OZ's tree of the same values, OZ's load of the Python dump)."""
    cases = standard_cases() + simple_cases()
    trees, requests = {}, []
    for case in cases:
        tree, request = build_case(case)
        trees[case] = tree
        requests.append(request)
        requests.append({"kind": request["kind"], "load": tree.dump(), "multi": request["multi"]})
    answers = run_openzeppelin(requests)
    return {case: (trees[case], answers[2 * n], answers[2 * n + 1]) for n, case in enumerate(cases)}


def assert_same_tree(tree: Any, oz: dict[str, Any], multi: list[int]) -> None:
    assert tree.root_hex == oz["root"]
    assert [hexes(tree.get_proof(i)) for i in range(len(tree))] == oz["proofs"]
    leaves, proof, flags = tree.get_multiproof(multi)
    expected = oz["multiproof"]
    if isinstance(tree, MerkleTree):
        leaves = hexes(leaves)
    assert leaves == expected["leaves"]  # same rows, in the same (proof) order
    assert hexes(proof) == expected["proof"]
    assert flags == expected["proofFlags"]
    assert tree.render() == oz["render"]


@pytest.mark.parametrize("case", standard_cases() + simple_cases())
def test_same_tree_as_openzeppelin(case: str, openzeppelin: dict[str, Any]) -> None:
    tree, built_by_oz, _ = openzeppelin[case]
    _, request = build_case(case)
    assert_same_tree(tree, built_by_oz, request["multi"])
    assert tree.dump() == built_by_oz["dump"]


@pytest.mark.parametrize("case", standard_cases() + simple_cases())
def test_dumps_load_on_the_other_side(case: str, openzeppelin: dict[str, Any]) -> None:
    tree, built_by_oz, loaded_by_oz = openzeppelin[case]
    _, request = build_case(case)
    assert_same_tree(tree, loaded_by_oz, request["multi"])  # Python dump -> JS
    from_js = type(tree).load(json.dumps(built_by_oz["dump"]))  # JS dump -> Python
    assert_same_tree(from_js, built_by_oz, request["multi"])
    assert from_js.dump() == built_by_oz["dump"]


def test_python_ints_and_bytes_dump_as_javascript_strings() -> None:
    rows: list[list[Any]] = [
        ["0x" + "ab" * 20, 10**18, b"\x01" * 32],
        ["0x" + "cd" * 20, 5, b"\x02" * 32],
    ]
    as_json = [[a, str(n), "0x" + b.hex()] for a, n, b in rows]
    encoding = ["address", "uint256", "bytes32"]
    (oz,) = run_openzeppelin([{"kind": "standard", "values": as_json, "encoding": encoding}])
    tree = StandardMerkleTree.of(rows, encoding)
    assert tree.root_hex == oz["root"]
    assert tree.dump() == oz["dump"]
