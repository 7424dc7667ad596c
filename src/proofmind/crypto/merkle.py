"""Merkle trees byte-compatible with OpenZeppelin's ``StandardMerkleTree`` (npm
``@openzeppelin/merkle-tree``), so proofs made here verify with OZ ``MerkleProof`` on-chain and
trees move between Python and JavaScript through the ``standard-v1`` JSON dump.

- leaf  = keccak256(keccak256(abi.encode(types, values)))
- node  = keccak256(sort(a, b)) — pairs are sorted, so proofs need no left/right flags
- the tree is one array of 2n - 1 nodes: the root at 0, node i's children at 2i + 1 and 2i + 2,
  the leaves at the end in reverse order (leaf i at 2n - 2 - i); leaves are sorted by hash first
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sha3
from eth_abi.abi import encode as abi_encode_slow
from eth_abi.exceptions import EncodingError
from eth_utils.address import is_address

from proofmind.errors import CryptoError, InputError


def _keccak(data: bytes) -> bytes:
    return bytes(sha3.keccak_256(data).digest())


def hash_pair(a: bytes, b: bytes) -> bytes:
    """OZ's standardNodeHash: keccak256 of the two children in ascending byte order."""
    return _keccak(a + b if a < b else b + a)


# -- ABI encoding of a row -----------------------------------------------------------------


def _word_encoder(kind: str) -> Callable[[Any], bytes] | None:
    """A fast 32-byte encoder for a static ABI type, or None to use eth_abi."""
    if kind == "address":
        return _encode_address
    if kind == "bool":
        return _encode_bool
    if kind == "bytes32":
        return _encode_bytes32
    for prefix, signed in (("uint", False), ("int", True)):
        if kind.startswith(prefix) and kind[len(prefix) :].isdigit():
            bits = int(kind[len(prefix) :])
            if bits % 8 or not 8 <= bits <= 256:
                return None
            return _int_encoder(bits, signed)
    return None


_ADDRESS_PAD = b"\x00" * 12


def _encode_address(value: Any) -> bytes:
    # cheap checks first; only mixed-case addresses need the EIP-55 checksum test
    if not isinstance(value, str) or len(value) != 42 or value[:2] not in ("0x", "0X"):
        raise ValueError(f"{value!r} is not an address")
    body = value[2:]
    if not (body.islower() or body.isupper() or body.isdigit()) and not is_address(value):
        raise ValueError(f"{value!r} has a wrong EIP-55 checksum")
    return _ADDRESS_PAD + bytes.fromhex(body)


def _encode_bool(value: Any) -> bytes:
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not a bool")
    return (1 if value else 0).to_bytes(32, "big")


def _encode_bytes32(value: Any) -> bytes:
    data = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else value
    if not isinstance(data, bytes) or len(data) != 32:
        raise ValueError(f"{value!r} is not 32 bytes")
    return data


def _int_encoder(bits: int, signed: bool) -> Callable[[Any], bytes]:
    low, high = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)

    def encode(value: Any) -> bytes:
        number = _to_int(value)
        if not low <= number < high:
            raise ValueError(f"{value!r} does not fit {'int' if signed else 'uint'}{bits}")
        return number.to_bytes(32, "big", signed=True) if signed else number.to_bytes(32, "big")

    return encode


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is a bool, not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value, 0)  # OZ dumps numbers as decimal strings
    raise ValueError(f"{value!r} is not an integer")


class RowEncoder:
    """abi.encode for one fixed list of types; static types take a fast path."""

    def __init__(self, types: Sequence[str]) -> None:
        if not types:
            raise InputError(
                "a leaf encoding needs at least one type", hint='e.g. ["address", "uint256"]'
            )
        self.types = list(types)
        words = [_word_encoder(t) for t in self.types]
        self._words: list[Callable[[Any], bytes]] | None = (
            None if any(w is None for w in words) else [w for w in words if w is not None]
        )

    def encode(self, values: Sequence[Any], row: int | None = None) -> bytes:
        if len(values) != len(self.types):
            raise InputError(
                f"{_where(row)}has {len(values)} value(s) but the leaf encoding "
                f"{self.types} has {len(self.types)}",
                hint="give one value per type",
            )
        try:
            if self._words is not None:
                return b"".join(w(v) for w, v in zip(self._words, values, strict=True))
            return abi_encode_slow(
                self.types, [_normalise(t, v) for t, v in zip(self.types, values, strict=True)]
            )
        except (ValueError, TypeError, EncodingError, OverflowError) as exc:
            raise InputError(
                f"{_where(row)}cannot be ABI-encoded as {self.types}: {exc}",
                hint="check each value against its type (addresses as 0x-hex, integers in range)",
            ) from None

    def leaf(self, values: Sequence[Any], row: int | None = None) -> bytes:
        return _keccak(_keccak(self.encode(values, row)))

    def leaves(self, rows: Sequence[Sequence[Any]]) -> list[bytes]:
        """Leaf hashes of many rows; the hot loop of building a large tree."""
        words = self._words
        if words is None:
            return [self.leaf(row, n) for n, row in enumerate(rows)]
        keccak = sha3.keccak_256
        width = len(words)
        out = []
        try:
            for row in rows:
                if len(row) != width:
                    raise ValueError("arity")
                encoded = b"".join([w(v) for w, v in zip(words, row)])  # noqa: B905 - checked
                out.append(keccak(keccak(encoded).digest()).digest())
        except (ValueError, TypeError, OverflowError):
            self.leaf(rows[len(out)], len(out))  # raises the InputError naming the row
            raise
        return out


def _normalise(kind: str, value: Any) -> Any:
    """Accept the JSON forms OZ dumps use: numbers as strings, bytes as 0x-hex."""
    if kind.endswith("]") and isinstance(value, list | tuple):
        inner = kind[: kind.rindex("[")]
        return [_normalise(inner, v) for v in value]
    if kind.startswith(("uint", "int")) and isinstance(value, str):
        return int(value, 0)
    if kind.startswith("bytes") and isinstance(value, str):
        return bytes.fromhex(value.removeprefix("0x"))
    return value


def _where(row: int | None) -> str:
    return "" if row is None else f"row {row} "


def abi_encode(types: Sequence[str], values: Sequence[Any]) -> bytes:
    return RowEncoder(types).encode(values)


def leaf_hash(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """The StandardMerkleTree leaf of one row."""
    return RowEncoder(types).leaf(values)


# -- the tree over leaf hashes -------------------------------------------------------------


def make_tree(leaves: Sequence[bytes]) -> list[bytes]:
    """OZ's makeMerkleTree: the array-form tree over ``leaves`` in the given order."""
    if not leaves:
        raise InputError("cannot build a Merkle tree of zero leaves", hint="give at least one row")
    n = len(leaves)
    tree: list[bytes] = [b""] * (n - 1) + list(reversed(leaves))
    for leaf in leaves:
        if len(leaf) != 32:
            raise CryptoError(f"a Merkle leaf must be 32 bytes, got {len(leaf)}")
    keccak = sha3.keccak_256
    for i in range(n - 2, -1, -1):
        a, b = tree[2 * i + 1], tree[2 * i + 2]
        tree[i] = keccak(a + b if a < b else b + a).digest()
    return tree


def tree_proof(tree: Sequence[bytes], tree_index: int) -> list[bytes]:
    _check_leaf(tree, tree_index)
    proof = []
    i = tree_index
    while i > 0:
        proof.append(tree[i + 1 if i % 2 else i - 1])
        i = (i - 1) // 2
    return proof


def tree_multiproof(
    tree: Sequence[bytes], tree_indices: Sequence[int]
) -> tuple[list[int], list[bytes], list[bool]]:
    """OZ's getMultiProof: (leaf tree indices in proof order, proof, flags)."""
    for index in tree_indices:
        _check_leaf(tree, index)
    ordered = sorted(tree_indices, reverse=True)
    if len(set(ordered)) != len(ordered):
        raise InputError(
            "cannot prove the same row twice in one multiproof", hint="remove duplicates"
        )
    stack = list(ordered)
    proof: list[bytes] = []
    flags: list[bool] = []
    head = 0  # stack[head:] is the live queue
    while head < len(stack) and stack[head] > 0:
        j = stack[head]
        head += 1
        sibling = j + 1 if j % 2 else j - 1
        if head < len(stack) and stack[head] == sibling:
            flags.append(True)
            head += 1
        else:
            flags.append(False)
            proof.append(tree[sibling])
        stack.append((j - 1) // 2)
    if not ordered:
        proof.append(tree[0])
    return ordered, proof, flags


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    _check_node(leaf)
    node = leaf
    for sibling in proof:
        _check_node(sibling)
        node = hash_pair(node, sibling)
    return node


def process_multiproof(
    leaves: Sequence[bytes], proof: Sequence[bytes], flags: Sequence[bool]
) -> bytes:
    """OZ's processMultiProof (and MerkleProof.processMultiProof on-chain)."""
    for node in (*leaves, *proof):
        _check_node(node)
    if len(proof) < sum(1 for f in flags if not f):
        raise CryptoError("invalid multiproof: fewer proof hashes than false flags")
    if len(leaves) + len(proof) != len(flags) + 1:
        raise CryptoError("invalid multiproof: leaves + proof must equal flags + 1")
    queue = list(leaves)
    hashes = list(proof)
    q = p = 0
    for flag in flags:
        a = queue[q]
        q += 1
        if flag:
            b = queue[q]
            q += 1
        else:
            b = hashes[p]
            p += 1
        queue.append(hash_pair(a, b))
    if len(queue) > q:
        return queue[-1]
    return hashes[p]


def _check_node(node: bytes) -> None:
    if not isinstance(node, bytes) or len(node) != 32:
        raise CryptoError(f"a Merkle node must be 32 bytes, got {node!r:.80}")


def _check_leaf(tree: Sequence[bytes], index: int) -> None:
    if not (0 <= index < len(tree) and 2 * index + 1 >= len(tree)):
        raise InputError(f"tree index {index} is not a leaf of this tree")


# -- StandardMerkleTree ----------------------------------------------------------------------


@dataclass(frozen=True)
class MultiProof:
    """A multiproof: the rows (in proof order), the proof hashes and the flags."""

    leaves: list[list[Any]]
    proof: list[bytes]
    proof_flags: list[bool]


class StandardMerkleTree:
    """A tree of typed rows; each row's position is its index in ``values``."""

    def __init__(
        self,
        tree: list[bytes],
        values: list[list[Any]],
        tree_indices: list[int],
        leaf_encoding: Sequence[str],
    ) -> None:
        self.tree = tree
        self.values = values
        self.tree_indices = tree_indices
        self.leaf_encoding = list(leaf_encoding)
        self._encoder = RowEncoder(self.leaf_encoding)
        self._lookup: dict[bytes, int] | None = None

    @classmethod
    def of(
        cls,
        values: Sequence[Sequence[Any]],
        leaf_encoding: Sequence[str],
        *,
        sort_leaves: bool = True,
    ) -> StandardMerkleTree:
        encoder = RowEncoder(leaf_encoding)
        rows = [list(v) for v in values]
        hashes = encoder.leaves(rows)
        order = (
            sorted(range(len(hashes)), key=hashes.__getitem__)
            if sort_leaves
            else range(len(hashes))
        )
        order = list(order)
        tree = make_tree([hashes[i] for i in order])
        tree_indices = [0] * len(rows)
        last = len(tree) - 1
        for leaf_position, value_index in enumerate(order):
            tree_indices[value_index] = last - leaf_position
        return cls(tree, rows, tree_indices, leaf_encoding)

    @property
    def root(self) -> bytes:
        return self.tree[0]

    @property
    def root_hex(self) -> str:
        return "0x" + self.tree[0].hex()

    def __len__(self) -> int:
        return len(self.values)

    def encode(self, values: Sequence[Any]) -> bytes:
        """abi.encode of a row: what a contract hashes into the leaf."""
        return self._encoder.encode(values)

    def leaf_hash(self, values: Sequence[Any]) -> bytes:
        return self._encoder.leaf(values)

    def index_of(self, values: Sequence[Any]) -> int:
        if self._lookup is None:
            self._lookup = {self.tree[t]: i for i, t in enumerate(self.tree_indices)}
        index = self._lookup.get(self.leaf_hash(values))
        if index is None:
            raise InputError(f"row {list(values)!r} is not in this tree")
        return index

    def get_proof(self, row: int | Sequence[Any]) -> list[bytes]:
        index = self._index(row)
        return tree_proof(self.tree, self.tree_indices[index])

    def get_multiproof(self, rows: Sequence[int | Sequence[Any]]) -> MultiProof:
        indices = [self._index(r) for r in rows]
        by_tree_index = {self.tree_indices[i]: i for i in indices}
        ordered, proof, flags = tree_multiproof(self.tree, [self.tree_indices[i] for i in indices])
        return MultiProof([self.values[by_tree_index[t]] for t in ordered], proof, flags)

    def verify(self, row: int | Sequence[Any], proof: Sequence[bytes]) -> bool:
        values = self.values[self._index(row)] if isinstance(row, int) else row
        return process_proof(self.leaf_hash(values), proof) == self.root

    def verify_multiproof(self, multiproof: MultiProof) -> bool:
        leaves = [self.leaf_hash(v) for v in multiproof.leaves]
        return process_multiproof(leaves, multiproof.proof, multiproof.proof_flags) == self.root

    def render(self) -> str:
        """The tree drawn as text, like OZ's render()."""
        lines = []
        stack: list[tuple[int, list[int]]] = [(0, [])]
        while stack:
            i, path = stack.pop()
            prefix = "".join(["   ", "│  "][p] for p in path[:-1]) + "".join(
                ["└─ ", "├─ "][p] for p in path[-1:]
            )
            lines.append(f"{prefix}{i}) 0x{self.tree[i].hex()}")
            if 2 * i + 2 < len(self.tree):
                stack.append((2 * i + 2, [*path, 0]))
                stack.append((2 * i + 1, [*path, 1]))
        return "\n".join(lines)

    def dump(self) -> dict[str, Any]:
        """OZ's ``standard-v1`` format (numbers as decimal strings, bytes as 0x-hex)."""
        return {
            "format": "standard-v1",
            "leafEncoding": self.leaf_encoding,
            "tree": ["0x" + node.hex() for node in self.tree],
            "values": [
                {"value": [_jsonable(v) for v in row], "treeIndex": t}
                for row, t in zip(self.values, self.tree_indices, strict=True)
            ],
        }

    def dumps(self) -> str:
        return json.dumps(self.dump())

    @classmethod
    def load(cls, data: dict[str, Any] | str) -> StandardMerkleTree:
        """Load a ``standard-v1`` dump and check every node and value against it."""
        raw = json.loads(data) if isinstance(data, str) else data
        if raw.get("format") != "standard-v1":
            raise InputError(
                f"unknown Merkle tree format {raw.get('format')!r}", hint="expected 'standard-v1'"
            )
        try:
            tree = [bytes.fromhex(str(node).removeprefix("0x")) for node in raw["tree"]]
            values = [list(entry["value"]) for entry in raw["values"]]
            indices = [int(entry["treeIndex"]) for entry in raw["values"]]
            encoding = list(raw["leafEncoding"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"malformed Merkle tree dump: {exc}") from None
        loaded = cls(tree, values, indices, encoding)
        loaded.validate()
        return loaded

    def validate(self) -> None:
        """Raise CryptoError unless every inner node and every value's leaf is consistent."""
        tree = self.tree
        for i, node in enumerate(tree):
            _check_node(node)
            if 2 * i + 2 < len(tree) and node != hash_pair(tree[2 * i + 1], tree[2 * i + 2]):
                raise CryptoError(f"Merkle tree node {i} does not hash its children")
            if 2 * i + 1 == len(tree) - 1:
                raise CryptoError("Merkle tree array has an invalid shape")
        for n, (row, t) in enumerate(zip(self.values, self.tree_indices, strict=True)):
            _check_leaf(tree, t)
            if tree[t] != self._encoder.leaf(row, n):
                raise CryptoError(f"row {n} does not match its leaf at tree index {t}")

    @staticmethod
    def verify_root(
        root: bytes, leaf_encoding: Sequence[str], values: Sequence[Any], proof: Sequence[bytes]
    ) -> bool:
        """Check a proof against a root alone, without the tree."""
        return process_proof(leaf_hash(leaf_encoding, values), proof) == root

    def _index(self, row: int | Sequence[Any]) -> int:
        if isinstance(row, int):
            if not 0 <= row < len(self.values):
                raise InputError(
                    f"row {row} is out of range",
                    hint=f"this tree has rows 0..{len(self.values) - 1}",
                )
            return row
        return self.index_of(row)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
