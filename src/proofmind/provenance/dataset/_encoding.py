"""The commitment format: ``proofmind-rows-v1`` row bytes and leaves, and the manifest
(``proofmind-dataset-v1``, or ``-v2`` for a chunked tree). The rules are in
:mod:`proofmind.provenance.dataset` and docs/provenance.md."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from proofmind.crypto.keccak import keccak256, keccak_256
from proofmind.errors import InputError

ENCODING = "proofmind-rows-v1"
MANIFEST_FORMAT = "proofmind-dataset-v1"
CHUNKED_FORMAT = "proofmind-dataset-v2"  # the same leaves under a chunked tree (chunked.py)
SUFFIXES = (".csv", ".csv.gz", ".parquet")


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the bytes every proofmind document hash is taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class DataFile:
    path: str  # relative POSIX path inside the dataset ("" parts for a single file)
    bytes: int
    sha256: str
    rows: int
    first_row: int


@dataclass
class Manifest:
    """What a dataset commitment covers; ``hash`` is keccak256 of its canonical JSON."""

    name: str
    root: str
    rows: int
    schema: list[dict[str, str]]
    files: list[DataFile] = field(default_factory=list)
    chunk_rows: int | None = None  # set for a chunked (v2) commitment

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format": MANIFEST_FORMAT if self.chunk_rows is None else CHUNKED_FORMAT,
            "encoding": ENCODING,
            "name": self.name,
            "root": self.root,
            "rows": self.rows,
            "schema": self.schema,
            "files": [vars(f) for f in self.files],
        }
        if self.chunk_rows is not None:
            data["chunk_rows"] = self.chunk_rows
        return data

    @property
    def hash(self) -> str:
        return "0x" + keccak256(canonical_json(self.to_json())).hex()

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "manifest") -> Manifest:
        fmt = data.get("format")
        if fmt not in (MANIFEST_FORMAT, CHUNKED_FORMAT) or data.get("encoding") != ENCODING:
            raise InputError(
                f"{source} is not a {MANIFEST_FORMAT} or {CHUNKED_FORMAT} manifest",
                hint="commit the dataset again with this version of proofmind",
            )
        try:
            manifest = cls(
                name=str(data["name"]),
                root=str(data["root"]),
                rows=int(data["rows"]),
                schema=[dict(c) for c in data["schema"]],
                files=[DataFile(**f) for f in data["files"]],
                chunk_rows=int(data["chunk_rows"]) if fmt == CHUNKED_FORMAT else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{source} is malformed: {exc}") from exc
        if manifest.chunk_rows is not None and (
            manifest.chunk_rows < 1 or manifest.chunk_rows & (manifest.chunk_rows - 1)
        ):
            raise InputError(f"{source} is malformed: chunk_rows is not a power of two")
        return manifest

    def file_of_row(self, row: int) -> tuple[DataFile, int]:
        """The file holding dataset row ``row`` and the row's index inside it."""
        for f in self.files:
            if f.first_row <= row < f.first_row + f.rows:
                return f, row - f.first_row
        raise InputError(f"row {row} is out of range: the dataset has {self.rows} rows")


def row_bytes(cells: Sequence[str | None]) -> bytes:
    """The canonical bytes of one row given its cells' text (None for a null)."""
    out = []
    for cell in cells:
        out.append("\\N" if cell is None else cell.replace("\\", "\\\\").replace("\x1f", "\\u"))
    return "\x1f".join(out).encode()


def row_leaf(index: int, cells: Sequence[str | None]) -> bytes:
    """The Merkle leaf of row ``index`` (a reference implementation of the batch path)."""
    row_hash = keccak_256(row_bytes(cells)).digest()
    return keccak_256(index.to_bytes(8, "big") + row_hash).digest()
