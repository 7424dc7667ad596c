"""OpenZeppelin's array-form Merkle tree (``core.js`` of @openzeppelin/merkle-tree 1.0.x).

The tree over n leaves is one list of 2n - 1 nodes: the root at 0, node i's children at 2i + 1
and 2i + 2, the leaves at the end in reverse order (leaf k at 2n - 2 - k). An inner node is
keccak256 of its two children in ascending byte order, so proofs carry no left/right flags.
Nodes are plain 32-byte ``bytes``; there is no node object.
"""

from __future__ import annotations

from collections.abc import Sequence

from proofmind.crypto.keccak import keccak_256
from proofmind.errors import CryptoError, InputError


def hash_pair(a: bytes, b: bytes) -> bytes:
    """OZ's ``standardNodeHash``: keccak256 of the two children, smaller first."""
    return keccak_256(a + b if a < b else b + a).digest()


def as_node(node: bytes | str, what: str = "Merkle node") -> bytes:
    """A 32-byte node from bytes or 0x-hex (proofs from OZ's JS come as hex strings)."""
    if isinstance(node, str):
        digits = node[2:] if node[:2] in ("0x", "0X") else node
        try:
            raw = bytes.fromhex(digits)
        except ValueError:
            raw = b""
        if len(raw) == 32 and len(digits) == 64:
            return raw
    elif isinstance(node, bytes) and len(node) == 32:
        return node
    raise CryptoError(
        f"a {what} must be 32 bytes, got {node!r:.90}",
        hint="pass 32 bytes, or 64 hex digits with or without 0x",
    )


def check_leaves(leaves: Sequence[bytes]) -> None:
    if not leaves:
        raise InputError("cannot build a Merkle tree of zero leaves", hint="give at least one row")
    if set(map(type, leaves)) != {bytes} or set(map(len, leaves)) != {32}:
        for n, leaf in enumerate(leaves):
            if not isinstance(leaf, bytes) or len(leaf) != 32:
                raise CryptoError(
                    f"leaf {n} must be 32 bytes, got {leaf!r:.90}",
                    hint="hash each row first, e.g. with leaf_hash(types, values)",
                )


def build(leaves: Sequence[bytes]) -> list[bytes]:
    """OZ's ``makeMerkleTree`` over checked 32-byte leaves, in the order given."""
    n = len(leaves)
    tree: list[bytes] = [b""] * (n - 1) + list(reversed(leaves))
    keccak = keccak_256
    # One slice of parents at a time, [low, high): their children [2 low + 1, 2 high + 1) all
    # lie at or after `high`, so they are done. A list comprehension per slice is about
    # twice as fast as indexing node by node.
    high = n - 1
    while high > 0:
        low = high // 2
        children = tree[2 * low + 1 : 2 * high + 1]
        tree[low:high] = [
            keccak(a + b if a < b else b + a).digest()
            for a, b in zip(children[0::2], children[1::2], strict=True)
        ]
        high = low
    return tree


def leaf_count(tree: Sequence[bytes]) -> int:
    return (len(tree) + 1) // 2


def is_leaf(tree: Sequence[bytes], tree_index: int) -> bool:
    return 0 <= tree_index < len(tree) and 2 * tree_index + 1 >= len(tree)


def check_shape(tree: Sequence[bytes]) -> None:
    """CryptoError unless ``tree`` is a well-formed array tree (OZ's ``isValidMerkleTree``)."""
    if not tree or len(tree) % 2 == 0:
        raise CryptoError(
            f"a Merkle tree array has an odd number of nodes (2n - 1), got {len(tree)}",
            hint="the dump is truncated or was not made by a StandardMerkleTree",
        )
    for i, node in enumerate(tree):
        if not isinstance(node, bytes) or len(node) != 32:
            raise CryptoError(f"Merkle tree node {i} is not 32 bytes: {node!r:.90}")
    rebuilt = build(list(reversed(tree[leaf_count(tree) - 1 :])))
    if rebuilt != list(tree):
        bad = next(i for i, (a, b) in enumerate(zip(rebuilt, tree, strict=True)) if a != b)
        raise CryptoError(
            f"Merkle tree node {bad} is not the hash of its children",
            hint="the dump was altered; rebuild the tree from its values",
        )


def proof(tree: Sequence[bytes], tree_index: int) -> list[bytes]:
    """OZ's ``getProof``: the sibling of each node on the way from a leaf to the root."""
    path = []
    i = tree_index
    while i > 0:
        path.append(tree[i + 1 if i % 2 else i - 1])
        i = (i - 1) // 2
    return path


def multiproof(
    tree: Sequence[bytes], tree_indices: Sequence[int]
) -> tuple[list[int], list[bytes], list[bool]]:
    """OZ's ``getMultiProof``: (leaf tree indices in proof order, proof, flags)."""
    ordered = sorted(tree_indices, reverse=True)
    if len(set(ordered)) != len(ordered):
        raise InputError(
            "cannot prove the same leaf twice in one multiproof (OZ refuses it too)",
            hint="remove the duplicate indices or values",
        )
    queue = list(ordered)  # queue[head:] is OZ's `stack`, consumed from the front
    head = 0
    hashes: list[bytes] = []
    flags: list[bool] = []
    while head < len(queue) and queue[head] > 0:
        j = queue[head]
        head += 1
        sibling = j + 1 if j % 2 else j - 1
        if head < len(queue) and queue[head] == sibling:
            flags.append(True)
            head += 1
        else:
            flags.append(False)
            hashes.append(tree[sibling])
        queue.append((j - 1) // 2)
    if not ordered:
        hashes.append(tree[0])
    return ordered, hashes, flags


def process_proof(leaf: bytes | str, proof: Sequence[bytes | str]) -> bytes:
    """The root that ``proof`` leads to from ``leaf`` (OZ ``MerkleProof.processProof``)."""
    node = as_node(leaf, "Merkle leaf")
    for sibling in proof:
        node = hash_pair(node, as_node(sibling, "Merkle proof node"))
    return node


def process_multiproof(
    leaves: Sequence[bytes | str], proof: Sequence[bytes | str], proof_flags: Sequence[bool]
) -> bytes:
    """The root a multiproof leads to (OZ ``processMultiProof``, JS and Solidity alike)."""
    queue = [as_node(leaf, "Merkle leaf") for leaf in leaves]
    hashes = [as_node(node, "Merkle proof node") for node in proof]
    if len(hashes) < sum(1 for flag in proof_flags if not flag):
        raise CryptoError(
            f"invalid multiproof: {len(hashes)} proof hashes for "
            f"{sum(1 for flag in proof_flags if not flag)} false flags",
            hint="pass the proof and flags exactly as get_multiproof returned them",
        )
    if len(queue) + len(hashes) != len(proof_flags) + 1:
        raise CryptoError(
            f"invalid multiproof: {len(queue)} leaves + {len(hashes)} proof hashes must be "
            f"{len(proof_flags)} flags + 1",
            hint="pass the leaves in the order get_multiproof returned them",
        )
    q = p = 0
    for flag in proof_flags:
        if q >= len(queue) or (flag and q + 1 >= len(queue)):
            raise CryptoError(
                "invalid multiproof: the flags consume more leaves than there are",
                hint="pass the proof and flags exactly as get_multiproof returned them",
            )
        a = queue[q]
        if flag:
            b = queue[q + 1]
            q += 2
        else:
            b = hashes[p]
            q += 1
            p += 1
        queue.append(hash_pair(a, b))
    return queue[-1] if q < len(queue) else hashes[p]


def render(tree: Sequence[bytes]) -> str:
    """OZ's ``renderMerkleTree``: the tree drawn as text, root first."""
    if not tree:
        raise InputError("cannot render an empty Merkle tree")
    lines = []
    stack: list[tuple[int, list[int]]] = [(0, [])]
    while stack:
        i, path = stack.pop()
        prefix = "".join(["   ", "│  "][p] for p in path[:-1]) + "".join(
            ["└─ ", "├─ "][p] for p in path[-1:]
        )
        lines.append(f"{prefix}{i}) 0x{tree[i].hex()}")
        if 2 * i + 2 < len(tree):
            stack.append((2 * i + 2, [*path, 0]))
            stack.append((2 * i + 1, [*path, 1]))
    return "\n".join(lines)
