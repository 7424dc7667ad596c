"""Properties of the Merkle trees, and how they refuse bad input."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proofmind.crypto.keccak import keccak256
from proofmind.crypto.merkle import (
    MerkleTree,
    MultiProof,
    StandardMerkleTree,
    hash_pair,
    leaf_hash,
    leaf_hashes,
    make_tree,
    process_multiproof,
    process_proof,
    verify_multiproof,
    verify_proof,
)
from proofmind.errors import CryptoError, InputError

ENCODING = ["address", "uint256"]
ROW = st.tuples(st.binary(min_size=20, max_size=20), st.integers(0, 2**256 - 1)).map(
    lambda r: ["0x" + r[0].hex(), r[1]]
)
ROWS = st.lists(ROW, min_size=1, max_size=70)  # duplicates allowed, as in OZ
UNIQUE_ROWS = st.lists(ROW, min_size=1, max_size=70, unique_by=lambda r: (r[0], r[1]))


def flip_bit(data: bytes, bit: int) -> bytes:
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


def reference_multiproof_root(
    leaves: list[bytes], proof: list[bytes], flags: list[bool]
) -> bytes | None:
    """An independent transcription of OZ's processMultiProof (queue shift/push on lists),
    sharing no code with the implementation; None where OZ would throw."""
    if len(leaves) + len(proof) != len(flags) + 1:
        return None
    queue, hashes = list(leaves), list(proof)
    for flag in flags:
        if not queue or (flag and len(queue) < 2) or (not flag and not hashes):
            return None
        a = queue.pop(0)
        b = queue.pop(0) if flag else hashes.pop(0)
        queue.append(keccak256(min(a, b) + max(a, b)))
    return queue.pop() if queue else hashes.pop(0)


@given(ROWS, st.data())
def test_every_proof_verifies_and_a_flipped_bit_fails(
    rows: list[list[Any]], data: st.DataObject
) -> None:
    tree = StandardMerkleTree.of(rows, ENCODING)
    index = data.draw(st.integers(0, len(rows) - 1), label="index")
    proof = tree.get_proof(index)
    assert len(proof) <= len(rows).bit_length()
    assert tree.verify(index, proof)
    assert tree.verify(rows[index], proof)
    assert StandardMerkleTree.verify_root(tree.root, ENCODING, rows[index], proof)
    assert verify_proof(tree.root_hex, tree.leaf_hash(rows[index]), [p.hex() for p in proof])
    bit = data.draw(st.integers(0, 255), label="bit")
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1), label="proof node")
        bad = [*proof[:k], flip_bit(proof[k], bit), *proof[k + 1 :]]
        assert not tree.verify(index, bad)
    leaf = tree.leaf_hash(rows[index])
    assert not verify_proof(tree.root, flip_bit(leaf, bit), proof)
    assert not verify_proof(flip_bit(tree.root, bit), leaf, proof)


@given(UNIQUE_ROWS, st.data())
def test_a_changed_row_does_not_verify(rows: list[list[Any]], data: st.DataObject) -> None:
    tree = StandardMerkleTree.of(rows, ENCODING)
    index = data.draw(st.integers(0, len(rows) - 1))
    changed = [rows[index][0], (rows[index][1] + 1) % 2**256]
    assert changed in rows or not tree.verify(changed, tree.get_proof(index))


@given(ROWS, st.data())
def test_proof_by_value_finds_an_equal_row(rows: list[list[Any]], data: st.DataObject) -> None:
    tree = StandardMerkleTree.of(rows, ENCODING)
    index = data.draw(st.integers(0, len(rows) - 1))
    found = tree.index_of(rows[index])
    assert rows[found] == rows[index]
    assert tree.get_proof(rows[index]) == tree.get_proof(found)


@given(ROWS, st.data(), st.booleans())
def test_multiproofs_agree_with_the_reference_algorithm(
    rows: list[list[Any]], data: st.DataObject, sort_leaves: bool
) -> None:
    tree = StandardMerkleTree.of(rows, ENCODING, sort_leaves=sort_leaves)
    picks = data.draw(st.lists(st.integers(0, len(rows) - 1), unique=True), label="picks")
    multi = tree.get_multiproof(picks)
    leaves, proof, flags = multi
    hashes = [leaf_hash(ENCODING, row) for row in leaves]
    assert reference_multiproof_root(hashes, proof, flags) == tree.root
    assert process_multiproof(hashes, proof, flags) == tree.root
    assert tree.verify_multiproof(multi)
    assert StandardMerkleTree.verify_multiproof_root(tree.root, ENCODING, multi)
    assert sorted(map(tuple, leaves)) == sorted(tuple(rows[i]) for i in picks)
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1), label="proof node")
        bad = [*proof[:k], flip_bit(proof[k], data.draw(st.integers(0, 255))), *proof[k + 1 :]]
        assert not verify_multiproof(tree.root, hashes, bad, flags)


@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70), st.data())
def test_random_multiproof_input_never_crashes(leaves: list[bytes], data: st.DataObject) -> None:
    """Arbitrary (leaves, proof, flags): the reference root, or CryptoError where OZ throws."""
    proof = data.draw(st.lists(st.binary(min_size=32, max_size=32), max_size=8))
    flags = data.draw(st.lists(st.booleans(), max_size=len(leaves) + len(proof)))
    expected = reference_multiproof_root(leaves, proof, flags)
    if expected is None:
        with pytest.raises(CryptoError, match="invalid multiproof"):
            process_multiproof(leaves, proof, flags)
    else:
        assert process_multiproof(leaves, proof, flags) == expected


@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70), st.booleans())
def test_hash_tree_matches_standard_tree_and_simple_dump_round_trips(
    leaves: list[bytes], sort_leaves: bool
) -> None:
    tree = MerkleTree.of(leaves, sort_leaves=sort_leaves)
    assert [tree.leaf(i) for i in range(len(leaves))] == leaves
    for i, leaf in enumerate(leaves):
        proof = tree.get_proof(i)
        assert tree.verify(i, proof) and tree.verify(leaf, proof)
        assert process_proof(leaf, proof) == tree.root
    loaded = MerkleTree.load(tree.dump())
    assert loaded.tree == tree.tree and loaded.tree_indices == tree.tree_indices
    if not sort_leaves:
        assert tree.tree == make_tree(leaves)


@given(ROWS, st.booleans())
def test_standard_tree_is_a_hash_tree_over_leaf_hashes(
    rows: list[list[Any]], sort_leaves: bool
) -> None:
    standard = StandardMerkleTree.of(rows, ENCODING, sort_leaves=sort_leaves)
    hashes = MerkleTree.of(leaf_hashes(ENCODING, rows), sort_leaves=sort_leaves)
    assert hashes.tree == standard.tree and hashes.tree_indices == standard.tree_indices
    assert [leaf_hash(ENCODING, row) for row in rows] == leaf_hashes(ENCODING, rows)


@settings(max_examples=50)
@given(ROWS, st.booleans())
def test_dump_load_round_trip(rows: list[list[Any]], sort_leaves: bool) -> None:
    tree = StandardMerkleTree.of(rows, ENCODING, sort_leaves=sort_leaves)
    loaded = StandardMerkleTree.load(tree.dumps())
    assert loaded.root == tree.root and loaded.tree_indices == tree.tree_indices
    assert loaded.dump() == tree.dump()
    assert all(loaded.verify(i, tree.get_proof(i)) for i in range(len(rows)))


def test_single_leaf_tree() -> None:
    row = ["0x" + "01" * 20, 1]
    tree = StandardMerkleTree.of([row], ENCODING)
    assert tree.tree == [leaf_hash(ENCODING, row)]
    assert tree.root == leaf_hash(ENCODING, row)
    assert tree.get_proof(0) == []
    assert tree.verify(0, [])
    assert tree.get_multiproof([0]) == MultiProof([row], [], [])
    assert tree.get_multiproof([]) == MultiProof([], [tree.root], [])
    assert tree.render() == f"0) {tree.root_hex}"


def test_two_leaf_tree() -> None:
    rows = [["0x" + "01" * 20, 1], ["0x" + "02" * 20, 2]]
    tree = StandardMerkleTree.of(rows, ENCODING)
    a, b = (leaf_hash(ENCODING, row) for row in rows)
    assert tree.root == hash_pair(a, b) == hash_pair(b, a) == keccak256(min(a, b) + max(a, b))
    assert tree.tree[1:] == [max(a, b), min(a, b)]  # sorted leaves, placed from the end
    assert tree.get_proof(0) == [b] and tree.get_proof(1) == [a]
    assert tree.get_multiproof([1, 0]).proof_flags == [True]


def test_unsorted_leaves_keep_the_given_order() -> None:
    leaves = [bytes([i]) * 32 for i in (3, 1, 2)]
    tree = make_tree(leaves)
    assert tree[2:] == [leaves[2], leaves[1], leaves[0]]
    assert tree[1] == hash_pair(leaves[1], leaves[0])
    assert tree[0] == hash_pair(tree[1], leaves[2])


def test_render_draws_the_tree_like_openzeppelin() -> None:
    tree = MerkleTree.of([bytes([i]) * 32 for i in (1, 2, 3)])
    h = ["0x" + node.hex() for node in tree.tree]
    assert tree.render().splitlines() == [
        f"0) {h[0]}",
        f"├─ 1) {h[1]}",
        f"│  ├─ 3) {h[3]}",
        f"│  └─ 4) {h[4]}",
        f"└─ 2) {h[2]}",
    ]


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        ([], "zero rows"),
        ([["0x" + "01" * 20]], "row 0 has 1 value"),
        ([["0x" + "01" * 20, 1], "0x" + "01" * 20], "row 1 is '0x0101"),
        ([["0x" + "01" * 20, 1], ["0x1234", 1]], "row 1 cannot be ABI-encoded .*'0x1234' is not"),
        ([["0x" + "zz" * 20, 1]], "non-hex"),
        ([["0x" + "01" * 20, -1]], "-1 does not fit uint256"),
        ([["0x" + "01" * 20, 2**256]], "does not fit uint256"),
        ([["0x" + "01" * 20, True]], "is a bool"),
        ([["0x" + "01" * 20, "12abc"]], "is not an integer"),
        ([["0x" + "01" * 20, 1.5]], "is not an integer"),
    ],
)
def test_bad_rows_are_refused_naming_the_row(rows: list[Any], needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        StandardMerkleTree.of(rows, ENCODING)


@pytest.mark.parametrize(
    ("encoding", "needle"),
    [([], "non-empty list"), ("uint256", "non-empty list"), (["uint7"], "'uint7' in the leaf")],
)
def test_bad_leaf_encodings_are_refused(encoding: Any, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        StandardMerkleTree.of([[1]], encoding)


def test_bad_queries_are_refused() -> None:
    rows = [["0x" + "01" * 20, 1], ["0x" + "02" * 20, 2]]
    tree = StandardMerkleTree.of(rows, ENCODING)
    with pytest.raises(InputError, match="index 5 is out of range"):
        tree.get_proof(5)
    with pytest.raises(InputError, match="index -1 is out of range"):
        tree.get_proof(-1)
    with pytest.raises(InputError, match="not in this tree"):
        tree.get_proof(["0x" + "03" * 20, 3])
    with pytest.raises(InputError, match="same leaf twice"):
        tree.get_multiproof([0, rows[0]])
    with pytest.raises(CryptoError, match="must be 32 bytes"):
        tree.verify(0, [b"short"])
    with pytest.raises(CryptoError, match="must be 32 bytes"):
        verify_proof("0x1234", tree.root, [])
    with pytest.raises(CryptoError, match="invalid multiproof"):
        process_multiproof([tree.root], [], [True])
    with pytest.raises(CryptoError, match="leaf 1 must be 32 bytes"):
        MerkleTree.of([b"\x00" * 32, b"\x00" * 31])
    with pytest.raises(InputError, match="zero leaves"):
        MerkleTree.of([])


def test_a_row_changed_after_building_is_noticed() -> None:
    rows = [["0x" + "01" * 20, 1], ["0x" + "02" * 20, 2]]
    tree = StandardMerkleTree.of(rows, ENCODING)
    rows[0][1] = 99  # the tree keeps the rows by reference, as OZ's does
    with pytest.raises(CryptoError, match="row 0 no longer hashes to its leaf"):
        tree.get_proof(0)


def test_load_refuses_altered_dumps() -> None:
    tree = StandardMerkleTree.of([["0x" + "01" * 20, 1], ["0x" + "02" * 20, 2]], ENCODING)
    dump = tree.dump()
    dump["values"][0]["value"][1] = "999"
    with pytest.raises(CryptoError, match="row 0 of the dump does not hash to its leaf"):
        StandardMerkleTree.load(dump)
    dump = tree.dump()
    dump["tree"][0] = "0x" + "00" * 32
    with pytest.raises(CryptoError, match="node 0 is not the hash of its children"):
        StandardMerkleTree.load(dump)
    dump = tree.dump()
    dump["tree"].pop()
    with pytest.raises(CryptoError, match="odd number of nodes"):
        StandardMerkleTree.load(dump)
    dump = tree.dump()
    dump["values"][0]["treeIndex"] = 0
    with pytest.raises(CryptoError, match="treeIndex 0, which is not a leaf"):
        StandardMerkleTree.load(dump)
    with pytest.raises(InputError, match="unknown Merkle tree format 'simple-v1'"):
        StandardMerkleTree.load({**tree.dump(), "format": "simple-v1"})
    with pytest.raises(InputError, match="malformed Merkle tree dump"):
        StandardMerkleTree.load({"format": "standard-v1", "leafEncoding": ENCODING})
    with pytest.raises(InputError, match="not valid JSON"):
        StandardMerkleTree.load("{")
    with pytest.raises(InputError, match="custom node hash"):
        MerkleTree.load({**MerkleTree.of([b"\x01" * 32]).dump(), "hash": "custom"})
