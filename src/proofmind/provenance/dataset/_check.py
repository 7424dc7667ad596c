"""Checking a dataset against its commitment: file by file, then row by row through the
committed tree, naming each changed row and the line a person finds it on."""

from __future__ import annotations

import csv
import gzip
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proofmind.errors import InputError
from proofmind.provenance._hashing import NODE, Hasher, build_tree_file, iter_leaves
from proofmind.provenance.dataset._commit import Commitment
from proofmind.provenance.dataset._encoding import DataFile, Manifest
from proofmind.provenance.dataset._reading import (
    dataset_files,
    describe_drift,
    file_sha256,
    scan_leaves,
)


@dataclass
class DatasetCheck:
    """What re-deriving a dataset from its files found, against a commitment."""

    root: str
    rows: int
    ok: bool
    problems: list[str] = field(default_factory=list)
    changed_rows: list[int] = field(default_factory=list)
    changed_row_count: int = 0


MAX_LISTED_ROWS = 20


def check_dataset(
    path: Path | str,
    committed: Commitment,
    *,
    workers: int | None = None,
    progress: Any = None,
) -> DatasetCheck:
    """Re-derive the dataset at ``path`` and compare it with ``committed``: file by file,
    then row by row through the committed tree when the roots differ. A chunked commitment
    is checked chunk by chunk (see :func:`proofmind.provenance.chunked.check_chunked`), also
    from the URI it was committed from."""
    manifest = committed.manifest
    if manifest.chunk_rows is not None:
        from proofmind.provenance.chunked import check_chunked

        return check_chunked(path, committed, workers=workers, progress=progress)
    try:
        current_files = dict(dataset_files(Path(path)))
    except InputError as exc:
        return DatasetCheck("", 0, False, [exc.message])
    with tempfile.TemporaryDirectory(prefix=".verify-", dir=committed.tree_path.parent) as tmp:
        leaves_path, tree_path = Path(tmp) / "leaves.bin", Path(tmp) / "tree.bin"
        try:
            with Hasher(workers) as hasher:
                scan = scan_leaves(Path(path), leaves_path, hasher, progress)
                root = build_tree_file(
                    leaves_path, tree_path, scan.rows, hasher, leaves_path.with_suffix(".pairs")
                )
        except InputError as exc:
            hashes = {n: file_sha256(p) for n, p in current_files.items()}
            return DatasetCheck("", 0, False, [*file_problems(manifest, hashes), exc.message])
        problems = file_problems(manifest, {f.path: f.sha256 for f in scan.files})
        check = DatasetCheck("0x" + root.hex(), scan.rows, False, problems)
        if scan.schema != manifest.schema:
            problems.append(f"schema drift: {describe_drift(manifest.schema, scan.schema)}")
        if scan.rows != manifest.rows:
            problems.append(f"row count is {scan.rows}, committed {manifest.rows}")
        if check.root != manifest.root:
            problems.append(f"Merkle root is {check.root}, committed {manifest.root}")
            _pinpoint_rows(leaves_path, scan.rows, committed, check, current_files)
    check.ok = not problems
    return check


def file_problems(manifest: Manifest, current: dict[str, str]) -> list[str]:
    """Files missing, changed (by SHA-256) or added, against the manifest."""
    problems = []
    for f in manifest.files:
        digest = current.get(f.path)
        if digest is None:
            problems.append(f"file {f.path} is missing (it held rows {_span(f)})")
        elif digest != f.sha256:
            problems.append(f"file {f.path} changed (its SHA-256 differs from the manifest)")
    committed_names = {f.path for f in manifest.files}
    return problems + [f"file {n} was added" for n in current if n not in committed_names]


def _span(f: DataFile) -> str:
    return f"{f.first_row}–{f.first_row + f.rows - 1}" if f.rows else "none"


def _pinpoint_rows(
    leaves_path: Path,
    rows: int,
    committed: Commitment,
    check: DatasetCheck,
    files: dict[str, Path],
) -> None:
    """Compare leaves with the committed tree's, after checking that tree is the committed
    one (its leaves must hash up to the committed root)."""
    manifest = committed.manifest
    with committed.tree_path.open("rb") as tree:
        if not _tree_is_sound(tree, manifest):
            check.problems.append(
                "the committed tree in the workspace does not match the committed root, so "
                "rows cannot be pinpointed"
            )
            return
        common = min(rows, manifest.rows)
        with leaves_path.open("rb") as now:
            for first, old in iter_leaves(tree, manifest.rows):
                if first >= common:
                    break
                new = now.read(len(old))
                if new == old:
                    continue
                for k in range(0, min(len(old), len(new)), NODE):
                    if old[k : k + NODE] != new[k : k + NODE]:
                        _note_row(first + k // NODE, check)
    _describe_rows(check, manifest, files)
    if check.changed_row_count > MAX_LISTED_ROWS:
        check.problems.append(
            f"{check.changed_row_count} rows differ in all (the first {MAX_LISTED_ROWS} are listed)"
        )
    if rows != manifest.rows:
        lo, hi = sorted((rows, manifest.rows))
        verb = "added" if rows > manifest.rows else "removed"
        check.problems.append(f"rows {lo}–{hi - 1} were {verb} at the end")


def _note_row(row: int, check: DatasetCheck) -> None:
    check.changed_row_count += 1
    if len(check.changed_rows) < MAX_LISTED_ROWS:
        check.changed_rows.append(row)


def _describe_rows(check: DatasetCheck, manifest: Manifest, files: dict[str, Path]) -> None:
    """A problem line per listed changed row: the dataset row, and where a person finds it —
    the line of a CSV file as an editor numbers it (a quoted cell may span lines, so it is
    counted, not computed), next to the 0-based data row inside the file."""
    located = [(row, *manifest.file_of_row(row)) for row in check.changed_rows]
    lines: dict[tuple[str, int], int] = {}
    for name in dict.fromkeys(f.path for _, f, _ in located):
        path = files.get(name)
        if path is not None and not name.endswith(".parquet"):
            wanted = {inner for _, f, inner in located if f.path == name}
            lines.update({(name, r): n for r, n in csv_lines(path, wanted).items()})
    for row, f, inner in located:
        line = lines.get((f.path, inner))
        where = f"line {line} of {f.path}" if line is not None else f.path
        check.problems.append(f"row {row} differs ({where}, data row {inner})")


def csv_lines(path: Path, rows: set[int]) -> dict[int, int]:
    """The 1-based line on which each 0-based data row in ``rows`` of the CSV file at ``path``
    starts (after its header; blank lines are skipped, as the reader skips them)."""
    found: dict[int, int] = {}
    if not rows:
        return found
    try:
        with _open_text(path) as text:
            reader = csv.reader(text)
            end, row = 0, -1  # the header is row -1
            for cells in reader:
                if cells:
                    if row in rows:
                        found[row] = end + 1
                        if len(found) == len(rows):
                            break
                    row += 1
                end = reader.line_num
    except (OSError, UnicodeDecodeError, csv.Error):
        pass  # the row is still named by its index
    return found


def _open_text(path: Path) -> Any:
    """A CSV file (gzipped or not) as text for Python's csv module."""
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    return opener(path, "rt", encoding="utf-8-sig", newline="")


def _tree_is_sound(tree: Any, manifest: Manifest) -> bool:
    size = os.fstat(tree.fileno()).st_size
    if size != (2 * manifest.rows - 1) * NODE:
        return False
    tree.seek(0)
    with tempfile.TemporaryDirectory(dir=Path(tree.name).parent) as tmp:
        leaves = Path(tmp) / "leaves.bin"
        with leaves.open("wb") as out:
            for _, block in iter_leaves(tree, manifest.rows):
                out.write(block)
        with Hasher() as hasher:
            root = build_tree_file(leaves, Path(tmp) / "tree.bin", manifest.rows, hasher)
    return "0x" + root.hex() == manifest.root
