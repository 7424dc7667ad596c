"""Committing a dataset: its leaves and Merkle tree file, the manifest, and the folder named
by the manifest's hash, published in one rename."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proofmind.errors import InputError
from proofmind.provenance._hashing import Hasher, build_tree_file, read_node, tree_proof
from proofmind.provenance.dataset._encoding import SUFFIXES, Manifest, canonical_json
from proofmind.provenance.dataset._reading import scan_leaves
from proofmind.text import count_of


@dataclass
class Commitment:
    """A committed dataset: its manifest and the Merkle tree file (OZ array layout), or for a
    chunked commitment its ``chunks.bin`` (the chunk trees lie beside it)."""

    manifest: Manifest
    tree_path: Path

    @property
    def root(self) -> bytes:
        return bytes.fromhex(self.manifest.root[2:])

    def proof(self, row: int) -> RowProof:
        rows = self.manifest.rows
        if not 0 <= row < rows:
            raise InputError(
                f"row {row} is out of range: {self.manifest.name} has {count_of(rows, 'row')}",
                hint=f"pick a row from 0 to {rows - 1}",
            )
        if self.manifest.chunk_rows is not None:
            from proofmind.provenance.chunked import chunk_proof

            leaf, path = chunk_proof(self.tree_path.parent, self.manifest.chunk_rows, rows, row)
            return RowProof(row, leaf, path, self.root)
        with self.tree_path.open("rb") as tree:
            leaf = read_node(tree, 2 * rows - 2 - row)
            return RowProof(row, leaf, tree_proof(tree, rows, row), self.root)


@dataclass(frozen=True)
class RowProof:
    row: int
    leaf: bytes
    proof: list[bytes]
    root: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "leaf": "0x" + self.leaf.hex(),
            "proof": ["0x" + p.hex() for p in self.proof],
            "root": "0x" + self.root.hex(),
        }


def commit_dataset(
    path: Path,
    out_dir: Path,
    *,
    name: str | None = None,
    workers: int | None = None,
    progress: Any = None,
) -> Commitment:
    """Commit the dataset at ``path``; writes ``manifest.json`` and ``tree.bin`` into
    ``out_dir/<manifest hash>/`` atomically and returns the commitment."""
    path = Path(path)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".commit-", dir=out_dir))
    try:
        with Hasher(workers) as hasher:
            scan = scan_leaves(path, work / "leaves.bin", hasher, progress)
            root = build_tree_file(
                work / "leaves.bin", work / "tree.bin", scan.rows, hasher, work / "leaves.pairs"
            )
        (work / "leaves.bin").unlink()
        (work / "leaves.pairs").unlink()
        manifest = Manifest(
            name or default_name(path), "0x" + root.hex(), scan.rows, scan.schema, scan.files
        )
        return publish_commitment(work, out_dir, manifest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def default_name(path: Path) -> str:
    name = path.resolve().name
    for suffix in SUFFIXES:
        name = name.removesuffix(suffix)
    return name or "dataset"


def load_manifest(path: Path) -> Manifest:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read dataset manifest {path}: {exc}") from exc
    return Manifest.from_json(data, str(path))


def publish_commitment(work: Path, out_dir: Path, manifest: Manifest) -> Commitment:
    """Write ``manifest`` into the finished work folder and move it to
    ``out_dir/<manifest hash>/`` in one rename (an identical commitment already there is kept)."""
    (work / "manifest.json").write_bytes(canonical_json(manifest.to_json()))
    final = out_dir / manifest.hash[2:]
    if final.exists():
        shutil.rmtree(work)
    else:
        work.rename(final)
    return load_commitment(final)


def load_commitment(directory: Path) -> Commitment:
    manifest = load_manifest(directory / "manifest.json")
    tree = "tree.bin" if manifest.chunk_rows is None else "chunks.bin"
    return Commitment(manifest, directory / tree)
