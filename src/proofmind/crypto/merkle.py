"""Merkle trees byte-compatible with npm ``@openzeppelin/merkle-tree`` 1.0.x.

``StandardMerkleTree`` hashes typed rows as OZ's does (leaf = keccak256(keccak256(abi.encode(
row)))), so roots, proofs and multiproofs match the JS library and verify with OZ
``MerkleProof`` on-chain, and its ``standard-v1`` JSON dump loads on either side. ``MerkleTree``
is the same tree over 32-byte leaves you hashed yourself (OZ's ``SimpleMerkleTree``, dumped as
``simple-v1``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Generic, NamedTuple, TypeVar

from proofmind.crypto import _tree
from proofmind.crypto._abi import RowEncoder, row_encoder
from proofmind.crypto._tree import hash_pair, process_multiproof, process_proof
from proofmind.errors import CryptoError, InputError

__all__ = [
    "MerkleTree",
    "MultiProof",
    "StandardMerkleTree",
    "abi_encode",
    "hash_pair",
    "leaf_hash",
    "leaf_hashes",
    "make_tree",
    "process_multiproof",
    "process_proof",
    "verify_multiproof",
    "verify_proof",
]

T = TypeVar("T")
Node = bytes | str  # a 32-byte node, or 0x-hex as OZ's JS and JSON dumps give it


class MultiProof(NamedTuple, Generic[T]):
    """A multiproof as OZ returns it; unpacks as ``leaves, proof, proof_flags``.

    ``leaves`` are in proof order (not the order asked for): rows for a StandardMerkleTree,
    leaf hashes for a MerkleTree. Solidity's ``MerkleProof.multiProofVerify(proof, proofFlags,
    root, leaves)`` needs the leaves in exactly this order (rows hashed into leaves).
    """

    leaves: list[T]
    proof: list[bytes]
    proof_flags: list[bool]


# -- functions ------------------------------------------------------------------------------


def abi_encode(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """``abi.encode(values...)`` with OZ's value forms (numbers may be decimal strings)."""
    return _encoder(types).encode(values)


def leaf_hash(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """The StandardMerkleTree leaf of one row: keccak256(keccak256(abi.encode(values)))."""
    return _encoder(types).leaf(values)


def leaf_hashes(types: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[bytes]:
    """``leaf_hash`` of many rows at once; much faster per row for static types."""
    return _encoder(types).leaves(rows)


def make_tree(leaves: Sequence[bytes]) -> list[bytes]:
    """OZ's ``makeMerkleTree``: the 2n - 1 node array over ``leaves`` in the given order."""
    _tree.check_leaves(leaves)
    return _tree.build(leaves)


def verify_proof(root: Node, leaf: Node, proof: Sequence[Node]) -> bool:
    """Whether ``proof`` links the 32-byte ``leaf`` to ``root``; CryptoError if malformed."""
    return process_proof(leaf, proof) == _tree.as_node(root, "Merkle root")


def verify_multiproof(
    root: Node, leaves: Sequence[Node], proof: Sequence[Node], proof_flags: Sequence[bool]
) -> bool:
    """Whether a multiproof over 32-byte ``leaves`` leads to ``root``."""
    return process_multiproof(leaves, proof, proof_flags) == _tree.as_node(root, "Merkle root")


def _encoder(types: Sequence[str]) -> RowEncoder:
    try:
        return row_encoder(tuple(types))
    except TypeError:  # unhashable junk in `types`: let RowEncoder say what is wrong
        return RowEncoder(types)


def _arrange(hashes: list[bytes], sort_leaves: bool) -> tuple[list[bytes], list[int]]:
    """OZ's ``MerkleTreeImpl.prepare``: the tree, and the tree index of every leaf given."""
    n = len(hashes)
    last = 2 * n - 2
    if not sort_leaves:
        return _tree.build(hashes), list(range(last, n - 2, -1))
    # a stable sort, as JS's Array.prototype.sort is: equal leaves keep their order
    order = sorted(range(n), key=hashes.__getitem__)
    tree = _tree.build([hashes[i] for i in order])
    tree_indices = [0] * n
    for position, value_index in enumerate(order):
        tree_indices[value_index] = last - position
    return tree, tree_indices


def _row_index(row: int, count: int) -> int:
    if isinstance(row, bool):
        raise InputError(f"{row} is not an index", hint="pass a leaf's index (an int) or its value")
    if not 0 <= row < count:
        raise InputError(
            f"index {row} is out of range",
            hint=f"this tree has {count} leaves, indexed 0..{count - 1}",
        )
    return row


def _is_index(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_dump(data: Mapping[str, Any] | str | bytes, expected_format: str) -> Mapping[str, Any]:
    try:
        raw = json.loads(data) if isinstance(data, str | bytes) else data
    except ValueError as exc:
        raise InputError(f"a Merkle tree dump is not valid JSON: {exc}") from None
    if not isinstance(raw, Mapping):
        raise InputError(f"a Merkle tree dump is a JSON object, got {type(raw).__name__}")
    if raw.get("format") != expected_format:
        raise InputError(
            f"unknown Merkle tree format {raw.get('format')!r}",
            hint=f"expected {expected_format!r} (as written by dump())",
        )
    return raw


def _parse_nodes(raw: Mapping[str, Any]) -> tuple[list[bytes], list[Any], list[int]]:
    """The tree and the values' (value, treeIndex) pairs of a dump, shape-checked."""
    try:
        nodes = raw["tree"]
        entries = raw["values"]
        if not isinstance(nodes, list) or not isinstance(entries, list):
            raise TypeError("'tree' and 'values' must be lists")
        tree = [_tree.as_node(node, f"tree node {i}") for i, node in enumerate(nodes)]
        values = [entry["value"] for entry in entries]
        indices = [entry["treeIndex"] for entry in entries]
    except (KeyError, TypeError) as exc:
        raise InputError(
            f"malformed Merkle tree dump: {exc!r}",
            hint="expected {format, tree: [...], values: [{value, treeIndex}, ...]}",
        ) from None
    _tree.check_shape(tree)
    for n, index in enumerate(indices):
        if not _is_index(index) or not _tree.is_leaf(tree, index):
            raise CryptoError(f"value {n} has treeIndex {index!r}, which is not a leaf")
    return tree, values, indices


# -- the tree over leaf hashes ----------------------------------------------------------------


class MerkleTree:
    """A tree over 32-byte leaves you hashed yourself (OZ's ``SimpleMerkleTree``).

    Leaf ``i`` is the i-th hash given to ``of``; ``tree_indices[i]`` is where it sits in the
    node array. ``MerkleTree.of(leaf_hashes(types, rows))`` has the same root and proofs as
    ``StandardMerkleTree.of(rows, types)``.
    """

    def __init__(self, tree: list[bytes], tree_indices: list[int]) -> None:
        """Wrap a checked node array; use ``of`` or ``load`` to make one."""
        self.tree = tree
        self.tree_indices = tree_indices
        self._lookup: dict[bytes, int] | None = None

    @classmethod
    def of(cls, leaves: Sequence[bytes], *, sort_leaves: bool = True) -> MerkleTree:
        """Build the tree; leaves are sorted by hash first unless ``sort_leaves`` is False."""
        hashes = list(leaves)
        _tree.check_leaves(hashes)
        return cls(*_arrange(hashes, sort_leaves))

    @property
    def root(self) -> bytes:
        return self.tree[0]

    @property
    def root_hex(self) -> str:
        return "0x" + self.tree[0].hex()

    def __len__(self) -> int:
        return len(self.tree_indices)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={self.root_hex}, leaves={len(self)})"

    def leaf(self, index: int) -> bytes:
        """The i-th leaf given to ``of``."""
        return self.tree[self.tree_indices[_row_index(index, len(self))]]

    def index_of(self, leaf: Node) -> int:
        """The index of a leaf given to ``of`` (the last one, if it was given twice)."""
        if self._lookup is None:
            self._lookup = {self.tree[t]: i for i, t in enumerate(self.tree_indices)}
        index = self._lookup.get(_tree.as_node(leaf, "Merkle leaf"))
        if index is None:
            raise InputError(f"leaf {_hex(leaf)} is not in this tree")
        return index

    def get_proof(self, leaf: int | Node) -> list[bytes]:
        """The proof of one leaf, by index or by hash."""
        return _tree.proof(self.tree, self.tree_indices[self._index(leaf)])

    def get_multiproof(self, leaves: Iterable[int | Node]) -> MultiProof[bytes]:
        """One proof of several leaves (by index or hash); leaves come back in proof order."""
        indices = [self.tree_indices[self._index(leaf)] for leaf in leaves]
        ordered, proof, flags = _tree.multiproof(self.tree, indices)
        return MultiProof([self.tree[t] for t in ordered], proof, flags)

    def verify(self, leaf: int | Node, proof: Sequence[Node]) -> bool:
        """Whether ``proof`` links the leaf (an index, or any 32-byte hash) to this root."""
        node = self.leaf(leaf) if isinstance(leaf, int) else leaf
        return verify_proof(self.root, node, proof)

    def verify_multiproof(self, multiproof: MultiProof[bytes]) -> bool:
        leaves, proof, flags = multiproof
        return verify_multiproof(self.root, leaves, proof, flags)

    def render(self) -> str:
        """The tree drawn as text, exactly as OZ's ``render()``."""
        return _tree.render(self.tree)

    def dump(self) -> dict[str, Any]:
        """OZ's ``simple-v1`` format, loadable by ``SimpleMerkleTree.load`` in JS."""
        return {
            "format": "simple-v1",
            "tree": [_hex(node) for node in self.tree],
            "values": [{"value": _hex(self.tree[t]), "treeIndex": t} for t in self.tree_indices],
        }

    @classmethod
    def load(cls, data: Mapping[str, Any] | str | bytes) -> MerkleTree:
        """Load a ``simple-v1`` dump, checking every node."""
        raw = _parse_dump(data, "simple-v1")
        if raw.get("hash") == "custom":
            raise InputError(
                "this dump uses a custom node hash, which only its JS code knows",
                hint="only trees with OZ's standard node hash can be loaded",
            )
        tree, values, indices = _parse_nodes(raw)
        for n, (value, index) in enumerate(zip(values, indices, strict=True)):
            if _tree.as_node(value, f"value {n}") != tree[index]:
                raise CryptoError(f"value {n} is not the leaf at its treeIndex {index}")
        return cls(tree, indices)

    def _index(self, leaf: int | Node) -> int:
        if isinstance(leaf, int):
            return _row_index(leaf, len(self))
        return self.index_of(leaf)


# -- the tree over typed rows -----------------------------------------------------------------


Row = Sequence[Any]


class StandardMerkleTree:
    """OZ's ``StandardMerkleTree``: a tree over rows of ABI-typed values.

    Row ``i`` is ``values[i]``; proofs are asked for by row index or by the row itself.
    """

    def __init__(self, hash_tree: MerkleTree, values: list[Row], leaf_encoding: Sequence[str]):
        """Wrap a tree and its rows; use ``of`` or ``load`` to make one."""
        self.hash_tree = hash_tree
        self.values = values
        self.leaf_encoding = list(leaf_encoding)
        self._encoder = RowEncoder(self.leaf_encoding)

    @classmethod
    def of(
        cls, values: Sequence[Row], leaf_encoding: Sequence[str], *, sort_leaves: bool = True
    ) -> StandardMerkleTree:
        """Hash every row and build the tree; leaves are sorted by hash unless told not to."""
        encoder = RowEncoder(leaf_encoding)
        rows = list(values)
        if not rows:
            raise InputError("cannot build a Merkle tree of zero rows", hint="give at least one")
        hash_tree = MerkleTree(*_arrange(encoder.leaves(rows), sort_leaves))
        return cls(hash_tree, rows, leaf_encoding)

    @property
    def tree(self) -> list[bytes]:
        """The 2n - 1 node array (root first), as in the dump."""
        return self.hash_tree.tree

    @property
    def tree_indices(self) -> list[int]:
        return self.hash_tree.tree_indices

    @property
    def root(self) -> bytes:
        return self.hash_tree.root

    @property
    def root_hex(self) -> str:
        return self.hash_tree.root_hex

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(root={self.root_hex}, rows={len(self)}, "
            f"leaf_encoding={self.leaf_encoding})"
        )

    def encode(self, values: Row) -> bytes:
        """``abi.encode`` of a row: what a contract hashes into the leaf."""
        return self._encoder.encode(values)

    def leaf_hash(self, values: Row) -> bytes:
        return self._encoder.leaf(values)

    def index_of(self, values: Row) -> int:
        """The index of a row in ``values`` (the last one, if it occurs twice)."""
        return self.hash_tree.index_of(self.leaf_hash(values))

    def get_proof(self, row: int | Row) -> list[bytes]:
        """The proof of one row, by index or by value."""
        index = self._checked_index(row)
        return _tree.proof(self.tree, self.tree_indices[index])

    def get_multiproof(self, rows: Iterable[int | Row]) -> MultiProof[Row]:
        """One proof of several rows (by index or value); rows come back in proof order."""
        indices = [self._checked_index(row) for row in rows]
        tree_indices = [self.tree_indices[i] for i in indices]
        ordered, proof, flags = _tree.multiproof(self.tree, tree_indices)
        row_at = dict(zip(tree_indices, indices, strict=True))
        return MultiProof([self.values[row_at[t]] for t in ordered], proof, flags)

    def verify(self, row: int | Row, proof: Sequence[Node]) -> bool:
        """Whether ``proof`` links the row (an index, or any row of values) to this root."""
        values = self.values[_row_index(row, len(self))] if isinstance(row, int) else row
        return verify_proof(self.root, self.leaf_hash(values), proof)

    def verify_multiproof(self, multiproof: MultiProof[Row]) -> bool:
        leaves, proof, flags = multiproof
        hashes = [self.leaf_hash(values) for values in leaves]
        return verify_multiproof(self.root, hashes, proof, flags)

    @staticmethod
    def verify_root(
        root: Node, leaf_encoding: Sequence[str], values: Row, proof: Sequence[Node]
    ) -> bool:
        """Check a row's proof against a root alone (OZ's static ``verify``)."""
        return verify_proof(root, leaf_hash(leaf_encoding, values), proof)

    @staticmethod
    def verify_multiproof_root(
        root: Node, leaf_encoding: Sequence[str], multiproof: MultiProof[Row]
    ) -> bool:
        """Check a multiproof against a root alone (OZ's static ``verifyMultiProof``)."""
        leaves, proof, flags = multiproof
        hashes = [leaf_hash(leaf_encoding, values) for values in leaves]
        return verify_multiproof(root, hashes, proof, flags)

    def render(self) -> str:
        """The tree drawn as text, exactly as OZ's ``render()``."""
        return _tree.render(self.tree)

    def dump(self) -> dict[str, Any]:
        """OZ's ``standard-v1`` format; integers are written as decimal strings, bytes as hex."""
        return {
            "format": "standard-v1",
            "leafEncoding": self.leaf_encoding,
            "tree": [_hex(node) for node in self.tree],
            "values": [
                {"value": _jsonable(row), "treeIndex": t}
                for row, t in zip(self.values, self.tree_indices, strict=True)
            ],
        }

    def dumps(self) -> str:
        return json.dumps(self.dump())

    @classmethod
    def load(cls, data: Mapping[str, Any] | str | bytes) -> StandardMerkleTree:
        """Load a ``standard-v1`` dump (from here or from OZ's JS), checking every node and row."""
        raw = _parse_dump(data, "standard-v1")
        encoding = raw.get("leafEncoding")
        if not isinstance(encoding, list):
            raise InputError(f"the dump's leafEncoding must be a list of types, got {encoding!r}")
        encoder = RowEncoder(encoding)
        tree, values, indices = _parse_nodes(raw)
        leaves = encoder.leaves(values)
        for n, (leaf, index) in enumerate(zip(leaves, indices, strict=True)):
            if leaf != tree[index]:
                raise CryptoError(
                    f"row {n} of the dump does not hash to its leaf at treeIndex {index}",
                    hint="the dump was altered; rebuild the tree from its values",
                )
        return cls(MerkleTree(tree, indices), values, encoding)

    def _checked_index(self, row: int | Row) -> int:
        """The row's index, after checking that the row still hashes to its leaf (as OZ does:
        rows are kept by reference, so a caller could have changed one since)."""
        index = _row_index(row, len(self)) if isinstance(row, int) else self.index_of(row)
        if self.leaf_hash(self.values[index]) != self.tree[self.tree_indices[index]]:
            raise CryptoError(
                f"row {index} no longer hashes to its leaf: it was changed after the tree was made",
                hint="rebuild the tree, or pass copies of the rows to StandardMerkleTree.of",
            )
        return index


def _jsonable(value: Any) -> Any:
    """The JSON form OZ uses: big integers as decimal strings, bytes as 0x-hex."""
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _hex(node: Node) -> str:
    return node if isinstance(node, str) else "0x" + node.hex()
