"""The hot loops of a dataset commitment: row and leaf hashes, and a Merkle tree built on disk.

keccak256 costs about 1.4 µs a call here and a dataset needs three calls a row (row hash, leaf,
its share of inner nodes), so large inputs are hashed by a pool of processes, one per core.
The tree is OpenZeppelin's array layout (see ``proofmind.crypto._tree``) written to a file of
``2n - 1`` 32-byte nodes, built a slice of parents at a time: memory stays flat in the number
of rows.
"""

from __future__ import annotations

import operator
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from proofmind.crypto.keccak import keccak_256

T = TypeVar("T")
NODE = 32
_SLICE = 1 << 16  # parents per task when building a tree
_PARALLEL_ROWS = 1 << 17  # below this, a pool costs more than it saves


def canonical_rows(batch: pa.RecordBatch) -> pa.Array:
    """One binary value per row: escaped cells joined by 0x1f."""
    columns = [c if pa.types.is_string(c.type) else pc.cast(c, pa.string()) for c in batch.columns]
    if len(columns) > 1 and all(c.null_count == 0 for c in columns):
        # Fast path, the common case: no nulls, and no cell holds a backslash or 0x1f (every
        # row then has exactly len - 1 separators), so escaping would change nothing.
        joined = pc.binary_join_element_wise(*columns, "\x1f")
        _, offset_buffer, data = joined.buffers()
        offsets = memoryview(offset_buffer).cast("i")  # string offsets are int32
        start, end = offsets[joined.offset], offsets[joined.offset + len(joined)]
        text = b"" if data is None else data.to_pybytes()[start:end]
        if b"\\" not in text and text.count(b"\x1f") == len(joined) * (len(columns) - 1):
            return joined.cast(pa.binary())
    cells = []
    for column in columns:
        escaped = pc.replace_substring(column, "\\", "\\\\")
        escaped = pc.replace_substring(escaped, "\x1f", "\\u")
        cells.append(pc.fill_null(escaped, "\\N"))
    joined = pc.binary_join_element_wise(*cells, "\x1f") if len(cells) > 1 else cells[0]
    return joined.cast(pa.binary())


def row_hashes(rows: pa.Array) -> list[bytes]:
    """keccak256 of every row's canonical bytes."""
    return list(map(keccak_256.digest, map(keccak_256, rows.to_pylist())))  # type: ignore[attr-defined]


def leaf_block(batch: pa.RecordBatch, start: int) -> tuple[bytes, bytes]:
    """The leaves of the batch's rows, numbered from ``start``, and the parents of the leaf
    pairs (2j, 2j + 1) that lie wholly inside the batch.

    Leaf i = keccak256(uint64be(i) ‖ rowHash), rowHash = keccak256(canonical row bytes). The
    preimage is 40 bytes, never the 64 of an inner node, so a leaf can never be passed off as
    an inner node (the reason OZ's standard leaves are hashed twice). In OZ's layout leaves
    2j and 2j + 1 are always siblings, whatever the row count, so their parents can be made
    here, while the rows stream, instead of in a pass of their own.
    """
    hashes = row_hashes(canonical_rows(batch))
    prefixes = [i.to_bytes(8, "big") for i in range(start, start + len(hashes))]
    digest = keccak_256.digest  # type: ignore[attr-defined]
    leaves = list(map(digest, map(keccak_256, map(operator.add, prefixes, hashes))))
    first = start & 1  # an odd start pairs its first leaf with the previous batch's last
    left, right = leaves[first::2], leaves[first + 1 :: 2]
    pairs = [a + b if a < b else b + a for a, b in zip(left, right, strict=False)]
    return b"".join(leaves), b"".join(map(digest, map(keccak_256, pairs)))


class LeafWriter:
    """Writes leaves (row order) and the parents of leaf pairs (pair order) to two files,
    joining the pair that straddles two batches."""

    def __init__(self, leaves: BinaryIO, pairs: BinaryIO) -> None:
        self.leaves = leaves
        self.pairs = pairs
        self.count = 0
        self._last = b""

    def write(self, leaves: bytes, pairs: bytes) -> None:
        if not leaves:
            return
        if self.count & 1:  # the previous batch ended on an unpaired leaf
            a, b = self._last, leaves[:NODE]
            self.pairs.write(keccak_256(a + b if a < b else b + a).digest())
        self.pairs.write(pairs)
        self.leaves.write(leaves)
        self.count += len(leaves) // NODE
        self._last = leaves[-NODE:]


def parent_block(children: bytes) -> bytes:
    """The parents of consecutive child pairs: keccak256 of each pair, smaller first."""
    nodes = [children[i : i + NODE] for i in range(0, len(children), NODE)]
    left, right = nodes[0::2], nodes[1::2]
    pairs = [a + b if a < b else b + a for a, b in zip(left, right, strict=True)]
    return b"".join(map(keccak_256.digest, map(keccak_256, pairs)))  # type: ignore[attr-defined]


class Hasher:
    """Runs hashing tasks in order, in a process pool once the input is large enough."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self._pool: Executor | None = None

    def __enter__(self) -> Hasher:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def want_pool(self, size_hint: int) -> None:
        """Start the pool if ``size_hint`` rows are worth it (fork keeps start-up cheap)."""
        if self._pool is None and self.workers > 1 and size_hint >= _PARALLEL_ROWS:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=get_context("fork"))

    def ordered(self, fn: Callable[..., T], tasks: Iterable[tuple[Any, ...]]) -> Iterator[T]:
        """``fn(*task)`` for every task, yielded in task order, a few in flight at a time."""
        if self._pool is None:
            for task in tasks:
                yield fn(*task)
            return
        window: deque[Future[T]] = deque()
        for task in tasks:
            window.append(self._pool.submit(fn, *task))
            if len(window) > 2 * self.workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


def build_tree_file(
    leaves_path: Path,
    tree_path: Path,
    count: int,
    hasher: Hasher,
    pairs_path: Path | None = None,
) -> bytes:
    """Write OZ's tree array over the ``count`` leaves in ``leaves_path`` (row order) to
    ``tree_path``; returns the root. ``pairs_path`` holds the parents of the leaf pairs
    when they were made already (see :func:`leaf_block`)."""
    hasher.want_pool(count)
    made = count // 2 if pairs_path is not None else 0
    with leaves_path.open("rb") as src, tree_path.open("w+b") as tree:
        tree.truncate((2 * count - 1) * NODE)
        _place_reversed(src, tree, count, 2 * count - 2)
        if pairs_path is not None:
            with pairs_path.open("rb") as pairs:
                _place_reversed(pairs, tree, made, count - 2)
        # Depth by depth from the bottom: all parents at one depth are independent. The
        # parents of leaf pairs, when given, are the last `made` inner nodes.
        end = count - 1 - made
        depth = (count - 1).bit_length()  # inner nodes lie at depths < this
        for d in range(depth - 1, -1, -1):
            first, last = (1 << d) - 1, min((1 << (d + 1)) - 1, end)
            slices = [(lo, min(lo + _SLICE, last)) for lo in range(first, last, _SLICE)]
            tasks = ((_read(tree, 2 * lo + 1, 2 * (hi - lo)),) for lo, hi in slices)
            for (lo, _), parents in zip(slices, hasher.ordered(parent_block, tasks), strict=True):
                tree.seek(lo * NODE)
                tree.write(parents)
        tree.seek(0)
        return tree.read(NODE)


def _place_reversed(src: BinaryIO, tree: BinaryIO, count: int, top: int) -> None:
    """Node k of ``src`` goes to tree index ``top - k``: copy in chunks, each reversed."""
    done = 0
    while done < count:
        take = min(_SLICE * 4, count - done)
        block = np.frombuffer(src.read(take * NODE), dtype=np.uint8).reshape(take, NODE)
        tree.seek((top - (done + take - 1)) * NODE)
        tree.write(block[::-1].tobytes())
        done += take


def _read(f: BinaryIO, index: int, count: int) -> bytes:
    f.seek(index * NODE)
    return f.read(count * NODE)


def read_node(tree: BinaryIO, index: int) -> bytes:
    return _read(tree, index, 1)


def tree_proof(tree: BinaryIO, count: int, row: int) -> list[bytes]:
    """The sibling path of leaf ``row`` in a tree file (OZ's ``getProof``)."""
    index = 2 * count - 2 - row
    proof = []
    while index > 0:
        sibling = index - 1 if index % 2 == 0 else index + 1
        proof.append(read_node(tree, sibling))
        index = (index - 1) // 2
    return proof


def iter_leaves(tree: BinaryIO, count: int, chunk: int = _SLICE * 4) -> Iterator[tuple[int, bytes]]:
    """(first row, leaves of rows first.. in row order) from a tree file, chunk by chunk."""
    done = 0
    while done < count:
        take = min(chunk, count - done)
        block = np.frombuffer(_read(tree, 2 * count - 2 - (done + take - 1), take), np.uint8)
        yield done, block.reshape(take, NODE)[::-1].tobytes()
        done += take
