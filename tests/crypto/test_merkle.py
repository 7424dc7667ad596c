"""Property tests of the Merkle tree and its failure modes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proofmind.crypto.merkle import (
    StandardMerkleTree,
    hash_pair,
    leaf_hash,
    make_tree,
    process_multiproof,
    process_proof,
)
from proofmind.errors import CryptoError, InputError

ENCODING = ["address", "uint256"]
ROWS = st.lists(
    st.tuples(st.binary(min_size=20, max_size=20), st.integers(0, 2**256 - 1)).map(
        lambda r: ["0x" + r[0].hex(), r[1]]
    ),
    min_size=1,
    max_size=60,
    unique_by=lambda r: (r[0], r[1]),
)


def reference_multiproof(leaves: list[bytes], proof: list[bytes], flags: list[bool]) -> bytes:
    """A second, literal transcription of OZ's processMultiProof (shift/push on lists)."""
    stack, hashes = list(leaves), list(proof)
    for flag in flags:
        a = stack.pop(0)
        b = stack.pop(0) if flag else hashes.pop(0)
        stack.append(hash_pair(a, b))
    return stack.pop() if stack else hashes.pop(0)


@given(ROWS, st.data())
def test_every_proof_verifies_and_any_flip_fails(
    rows: list[list[object]], data: st.DataObject
) -> None:
    tree = StandardMerkleTree.of(rows, ENCODING)
    index = data.draw(st.integers(0, len(rows) - 1))
    proof = tree.get_proof(index)
    assert tree.verify(index, proof)
    assert StandardMerkleTree.verify_root(tree.root, ENCODING, rows[index], proof)
    assert tree.get_proof(rows[index]) == proof  # lookup by value
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        flipped = bytearray(proof[k])
        flipped[bit // 8] ^= 1 << (bit % 8)
        assert not tree.verify(index, [*proof[:k], bytes(flipped), *proof[k + 1 :]])
    changed = [rows[index][0], (int(str(rows[index][1])) + 1) % 2**256]
    assert changed in rows or not StandardMerkleTree.verify_root(
        tree.root, ENCODING, changed, proof
    )


@given(ROWS, st.data())
def test_multiproofs_match_reference_algorithm(
    rows: list[list[object]], data: st.DataObject
) -> None:
    tree = StandardMerkleTree.of(rows, ENCODING)
    picks = data.draw(st.lists(st.integers(0, len(rows) - 1), unique=True))
    multi = tree.get_multiproof(picks)
    leaves = [leaf_hash(ENCODING, v) for v in multi.leaves]
    assert process_multiproof(leaves, multi.proof, multi.proof_flags) == tree.root
    assert reference_multiproof(leaves, multi.proof, multi.proof_flags) == tree.root
    assert tree.verify_multiproof(multi)
    assert sorted(map(tuple, multi.leaves)) == sorted(tuple(rows[i]) for i in picks)


@settings(max_examples=50)
@given(ROWS, st.booleans())
def test_dump_load_round_trip(rows: list[list[object]], sort_leaves: bool) -> None:
    tree = StandardMerkleTree.of(rows, ENCODING, sort_leaves=sort_leaves)
    loaded = StandardMerkleTree.load(tree.dumps())
    assert loaded.root == tree.root and loaded.dump() == tree.dump()


def test_one_and_two_leaf_trees() -> None:
    one = StandardMerkleTree.of([["0x" + "01" * 20, 1]], ENCODING)
    assert one.root == leaf_hash(ENCODING, ["0x" + "01" * 20, 1])
    assert one.get_proof(0) == []
    two = StandardMerkleTree.of([["0x" + "01" * 20, 1], ["0x" + "02" * 20, 2]], ENCODING)
    a, b = (leaf_hash(ENCODING, v) for v in two.values)
    assert two.root == hash_pair(a, b) == hash_pair(b, a)
    assert process_proof(a, two.get_proof(0)) == two.root


def test_unsorted_tree_keeps_given_order() -> None:
    leaves = [bytes([i]) * 32 for i in (3, 1, 2)]
    tree = make_tree(leaves)
    assert tree[-1] == leaves[0] and tree[-3] == leaves[2]


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        ([], "zero leaves"),
        ([["0x" + "01" * 20]], "has 1 value"),
        ([["0x1234", 1]], "row 0 cannot be ABI-encoded"),
        ([["0x" + "01" * 20, -1]], "does not fit uint256"),
        ([["0x" + "01" * 20, True]], "is a bool"),
    ],
)
def test_bad_rows_are_rejected_with_the_row(rows: list[list[object]], needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        StandardMerkleTree.of(rows, ENCODING)


def test_bad_queries() -> None:
    tree = StandardMerkleTree.of([["0x" + "01" * 20, 1], ["0x" + "02" * 20, 2]], ENCODING)
    with pytest.raises(InputError, match="out of range"):
        tree.get_proof(5)
    with pytest.raises(InputError, match="not in this tree"):
        tree.get_proof(["0x" + "03" * 20, 3])
    with pytest.raises(InputError, match="same row twice"):
        tree.get_multiproof([0, 0])
    with pytest.raises(CryptoError, match="32 bytes"):
        tree.verify(0, [b"short"])
    with pytest.raises(CryptoError, match="invalid multiproof"):
        process_multiproof([tree.root], [], [True])


def test_load_rejects_tampered_dump() -> None:
    tree = StandardMerkleTree.of([["0x" + "01" * 20, 1], ["0x" + "02" * 20, 2]], ENCODING)
    dump = tree.dump()
    dump["values"][0]["value"][1] = "999"
    with pytest.raises(CryptoError, match="row 0 does not match"):
        StandardMerkleTree.load(dump)
    dump = tree.dump()
    dump["tree"][0] = "0x" + "00" * 32
    with pytest.raises(CryptoError, match="node 0 does not hash its children"):
        StandardMerkleTree.load(dump)
    with pytest.raises(InputError, match="unknown Merkle tree format"):
        StandardMerkleTree.load({"format": "simple-v1"})
