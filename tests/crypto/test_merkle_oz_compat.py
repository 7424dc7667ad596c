"""The same values give the same root, proofs, multiproof and dump as npm
@openzeppelin/merkle-tree (run through node)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from proofmind.crypto.merkle import StandardMerkleTree

pytestmark = pytest.mark.node

HERE = Path(__file__).parent


def oz(repo_root: Path, values: list[list[Any]], encoding: list[str], multi: list[int]) -> Any:
    node = shutil.which("node")
    if node is None or not (repo_root / "node_modules" / "@openzeppelin" / "merkle-tree").is_dir():
        pytest.skip("node or node_modules/@openzeppelin/merkle-tree missing (run `npm ci`)")
    result = subprocess.run(
        [node, str(HERE / "oz_tree.mjs")],
        cwd=repo_root,
        input=json.dumps({"values": values, "encoding": encoding, "multi": multi}),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(result.stdout)


def hexes(nodes: list[bytes]) -> list[str]:
    return ["0x" + n.hex() for n in nodes]


def address(rng: random.Random) -> str:
    return "0x" + "".join(rng.choice("0123456789abcdef") for _ in range(40))


CASES: dict[str, tuple[list[str], Any]] = {
    "address,uint256": (["address", "uint256"], lambda r: [address(r), str(r.getrandbits(256))]),
    "bytes32": (["bytes32"], lambda r: ["0x" + r.randbytes(32).hex()]),
    "string,uint256,bool": (
        ["string", "uint256", "bool"],
        lambda r: [f"row-{r.random()}", str(r.getrandbits(64)), r.random() < 0.5],
    ),
    "int256,bytes,uint8[]": (
        ["int256", "bytes", "uint8[]"],
        lambda r: [
            str(r.randint(-(2**255), 2**255 - 1)),
            "0x" + r.randbytes(r.randint(0, 40)).hex(),
            [str(r.randint(0, 255)) for _ in range(r.randint(0, 4))],
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_same_tree_as_openzeppelin(repo_root: Path, case: str, size: int) -> None:
    encoding, make = CASES[case]
    rng = random.Random(f"{case}-{size}")
    values = [make(rng) for _ in range(size)]
    multi = sorted(rng.sample(range(size), k=min(size, 3)))
    expected = oz(repo_root, values, encoding, multi)

    tree = StandardMerkleTree.of(values, encoding)
    assert tree.root_hex == expected["root"]
    assert [hexes(tree.get_proof(i)) for i in range(size)] == expected["proofs"]
    multiproof = tree.get_multiproof(multi)
    assert hexes(multiproof.proof) == expected["multiproof"]["proof"]
    assert multiproof.proof_flags == expected["multiproof"]["proofFlags"]
    assert [tree.values.index(v) for v in multiproof.leaves] == [
        values.index(v) for v in expected["multiproof"]["leaves"]
    ]
    assert tree.dump() == expected["dump"]
    reloaded = StandardMerkleTree.load(json.dumps(expected["dump"]))
    assert reloaded.root == tree.root


def test_python_ints_dump_like_javascript_strings(repo_root: Path) -> None:
    rows = [["0x" + "ab" * 20, 10**18], ["0x" + "cd" * 20, 5]]
    as_strings = [[a, str(n)] for a, n in rows]
    expected = oz(repo_root, as_strings, ["address", "uint256"], [0])
    assert StandardMerkleTree.of(rows, ["address", "uint256"]).dump() == expected["dump"]
