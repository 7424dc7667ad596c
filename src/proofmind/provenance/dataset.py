"""Dataset commitments: CSV / Parquet files or a folder of them → one Merkle root over rows.

Encoding ``proofmind-rows-v1`` (docs/provenance.md has the full rules):

* A dataset is one file, or every ``.csv``, ``.csv.gz`` and ``.parquet`` file under a folder
  (hidden ones skipped), in order of their relative POSIX paths. All must have the same schema.
* A row's canonical bytes are its cells joined by ``0x1f``, UTF-8. A CSV cell is its text as
  written (after unquoting), so nothing is lost to type inference (wei amounts stay exact);
  a Parquet cell is Arrow's string form of the value. ``\\`` becomes ``\\\\``, ``0x1f`` becomes
  ``\\u`` and a null becomes ``\\N``.
* ``rowHash = keccak256(row bytes)``; leaf ``i`` = ``keccak256(uint64be(i) ‖ rowHash)``; the
  tree is OpenZeppelin's (sorted pairs, leaves in row order, ``sortLeaves: false``), so
  ``MerkleProof.verify(proof, root, leaf)`` checks a row on-chain.

The manifest (schema, row count, each file's SHA-256 and row range) is canonical JSON; its
hash goes on-chain with the root, so a file changed in a way rows do not show is caught too.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from proofmind.crypto.keccak import keccak256, keccak_256
from proofmind.errors import InputError
from proofmind.provenance._hashing import (
    NODE,
    Hasher,
    LeafWriter,
    build_tree_file,
    iter_leaves,
    leaf_block,
    read_node,
    tree_proof,
)

ENCODING = "proofmind-rows-v1"
MANIFEST_FORMAT = "proofmind-dataset-v1"
CHUNKED_FORMAT = "proofmind-dataset-v2"  # the same leaves under a chunked tree (chunked.py)
SUFFIXES = (".csv", ".csv.gz", ".parquet")
_BLOCK = 1 << 20  # Arrow reads ahead ~40 blocks: 1 MiB keeps that at ~40 MB
_UNSUPPORTED_HINT = "proofmind commits flat tables of numbers, text, booleans and dates"


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
                f"row {row} is out of range: {self.manifest.name} has {rows} rows",
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


# --------------------------------------------------------------------------- reading


def dataset_files(path: Path) -> list[tuple[str, Path]]:
    """(relative name, path) of every data file of the dataset at ``path``, in commit order."""
    if path.is_file():
        if not path.name.endswith(SUFFIXES):
            raise InputError(
                f"{path} is not a CSV or Parquet file",
                hint="commit a .csv, .csv.gz or .parquet file, or a folder of them",
            )
        return [(path.name, path)]
    if not path.is_dir():
        raise InputError(f"{path} does not exist", hint="check the path")
    found = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and name.endswith(SUFFIXES):
                full = Path(dirpath) / name
                found.append((full.relative_to(path).as_posix(), full))
    if not found:
        raise InputError(
            f"{path} holds no .csv, .csv.gz or .parquet file", hint="point at your data files"
        )
    return sorted(found)


def _open_text(path: Path) -> Any:
    """A CSV file (gzipped or not) as text for Python's csv module."""
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    return opener(path, "rt", encoding="utf-8-sig", newline="")


def _arrow_schema(name: str, path: Path) -> list[dict[str, str]]:
    try:
        if name.endswith(".parquet"):
            schema = pq.read_schema(path)
            return [{"name": f.name, "type": str(f.type)} for f in schema]
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8-sig", newline="") as text:
            header = next(csv.reader(text), None)
    except csv.Error as exc:
        if "field limit" in str(exc):
            raise InputError(
                f"{path}: the header row has a cell longer than {csv.field_size_limit():,} "
                "characters",
                hint="check that the file is a CSV with a header row",
            ) from exc
        raise InputError(f"cannot read {path}: {exc}", hint="check the file") from exc
    except (OSError, UnicodeDecodeError, pa.ArrowException) as exc:
        raise InputError(f"cannot read {path}: {exc}", hint="check the file") from exc
    if not header:
        raise InputError(f"{path} is empty: a CSV file needs a header row")
    return [{"name": n, "type": "string"} for n in header]


def _check_types(schema: list[dict[str, str]], path: Path) -> None:
    for column in schema:
        t = column["type"]
        if t.startswith(("list", "large_list", "struct", "map", "binary", "large_binary")):
            raise InputError(
                f"{path}: column {column['name']!r} has type {t}", hint=_UNSUPPORTED_HINT
            )


class _BadRow:
    """Remembers the first malformed CSV row so the error can name its line."""

    def __init__(self) -> None:
        self.first: Any = None

    def __call__(self, row: Any) -> str:
        if self.first is None:
            self.first = row
        return "error"


def _batches(name: str, path: Path, schema: list[dict[str, str]]) -> Iterator[pa.RecordBatch]:
    bad = _BadRow()
    try:
        if name.endswith(".parquet"):
            yield from pq.ParquetFile(path).iter_batches(batch_size=1 << 16)
            return
        names = [c["name"] for c in schema]
        reader = pcsv.open_csv(
            pa.input_stream(str(path), compression="detect"),
            read_options=pcsv.ReadOptions(block_size=_BLOCK),
            parse_options=pcsv.ParseOptions(newlines_in_values=True, invalid_row_handler=bad),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        for batch in reader:
            if batch.schema.names != names or not all(
                pa.types.is_string(t) for t in batch.schema.types
            ):  # a header Arrow reads differently from Python's csv module
                raise InputError(
                    f"{path}: the header was read as {batch.schema.names}, expected {names}",
                    hint="check the header row for duplicate or unusual column names",
                )
            yield batch
    except (OSError, pa.ArrowException) as exc:
        if bad.first is not None:
            line = f"line {bad.first.number or _bad_line(path, len(schema)) or '?'}"
            raise InputError(
                f"{path}, {line}: expected {bad.first.expected_columns} columns, got "
                f"{bad.first.actual_columns} ({bad.first.text[:80]!r})",
                hint="fix the row (quote cells that contain commas) and commit again",
            ) from exc
        if "straddl" in str(exc):  # Arrow's words for a line longer than its read block
            raise _long_line(path) from exc
        raise InputError(f"cannot read {path}: {exc}", hint="check the file") from exc


def _long_line(path: Path) -> InputError:
    """The error for a CSV line that does not fit in one of Arrow's read blocks."""
    opener = gzip.open if path.name.endswith(".gz") else open
    where = "a line"
    try:
        with opener(path, "rb") as raw:
            for number, line in enumerate(raw, start=1):
                if len(line) > _BLOCK:
                    where = f"line {number}"
                    break
    except OSError:
        pass
    return InputError(
        f"{path}: {where} is longer than the reader's block ({_BLOCK / 2**20:g} MB)",
        hint="split the long line into rows, or store the data as Parquet",
    )


def _bad_line(path: Path, width: int) -> int | None:
    """The line of the first record without ``width`` cells (only run to word an error)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as text:
            reader = csv.reader(text)
            for record in reader:
                if len(record) != width:
                    return reader.line_num
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return None


@dataclass
class _Scan:
    """The leaves of a dataset as written to a file, with what the manifest needs."""

    rows: int
    schema: list[dict[str, str]]
    files: list[DataFile]


def _scan(path: Path, leaves_out: Path, hasher: Hasher, progress: Any = None) -> _Scan:
    files = dataset_files(path)
    total_bytes = sum(p.stat().st_size for _, p in files)
    hasher.want_pool(total_bytes // 64)  # rows are rarely shorter than 64 bytes
    schema: list[dict[str, str]] | None = None
    out: list[DataFile] = []
    rows = 0
    with leaves_out.open("wb") as sink, leaves_out.with_suffix(".pairs").open("wb") as pairs:
        writer = LeafWriter(sink, pairs)
        for name, file in files:
            file_schema = _arrow_schema(name, file)
            if schema is None:
                _check_types(file_schema, file)
                schema = file_schema
            elif file_schema != schema:
                raise InputError(
                    f"{file}: schema drift — {_describe_drift(schema, file_schema)}",
                    hint=f"every file of a dataset must have the columns of {files[0][1].name}",
                )
            first = rows

            def tasks(
                name: str = name, file: Path = file, schema: list[dict[str, str]] = schema
            ) -> Iterator[tuple[pa.RecordBatch, int]]:
                nonlocal rows
                for batch in _batches(name, file, schema):
                    yield batch, rows
                    rows += batch.num_rows
                    if progress is not None:
                        progress(batch.num_rows)

            for block, pair_parents in hasher.ordered(leaf_block, tasks()):
                writer.write(block, pair_parents)
            out.append(DataFile(name, file.stat().st_size, _file_hash(file), rows - first, first))
    if rows == 0:
        raise InputError(f"{path} has no rows", hint="a dataset needs at least one row")
    assert schema is not None
    return _Scan(rows, schema, out)


def _file_hash(path: Path) -> str:
    """SHA-256 of the file, hex, as `sha256sum` prints it."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    return digest.hexdigest()


def _describe_drift(want: list[dict[str, str]], got: list[dict[str, str]]) -> str:
    wn, gn = [c["name"] for c in want], [c["name"] for c in got]
    if wn != gn:
        missing = [n for n in wn if n not in gn]
        extra = [n for n in gn if n not in wn]
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        if not parts:
            parts.append(f"columns in another order ({', '.join(gn)})")
        return "; ".join(parts)
    changed = [
        f"{w['name']} is {g['type']}, was {w['type']}"
        for w, g in zip(want, got, strict=True)
        if w != g
    ]
    return "; ".join(changed)


# --------------------------------------------------------------------------- commit / verify


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
            scan = _scan(path, work / "leaves.bin", hasher, progress)
            root = build_tree_file(
                work / "leaves.bin", work / "tree.bin", scan.rows, hasher, work / "leaves.pairs"
            )
        (work / "leaves.bin").unlink()
        (work / "leaves.pairs").unlink()
        manifest = Manifest(
            name or _default_name(path), "0x" + root.hex(), scan.rows, scan.schema, scan.files
        )
        return publish_commitment(work, out_dir, manifest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _default_name(path: Path) -> str:
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
    path: Path, committed: Commitment, *, workers: int | None = None, progress: Any = None
) -> DatasetCheck:
    """Re-derive the dataset at ``path`` and compare it with ``committed``: file by file,
    then row by row through the committed tree when the roots differ. A chunked commitment
    is checked chunk by chunk (see :func:`proofmind.provenance.chunked.check_chunked`)."""
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
                scan = _scan(Path(path), leaves_path, hasher, progress)
                root = build_tree_file(
                    leaves_path, tree_path, scan.rows, hasher, leaves_path.with_suffix(".pairs")
                )
        except InputError as exc:
            hashes = {n: _file_hash(p) for n, p in current_files.items()}
            return DatasetCheck("", 0, False, [*_file_problems(manifest, hashes), exc.message])
        problems = _file_problems(manifest, {f.path: f.sha256 for f in scan.files})
        check = DatasetCheck("0x" + root.hex(), scan.rows, False, problems)
        if scan.schema != manifest.schema:
            problems.append(f"schema drift: {_describe_drift(manifest.schema, scan.schema)}")
        if scan.rows != manifest.rows:
            problems.append(f"row count is {scan.rows}, committed {manifest.rows}")
        if check.root != manifest.root:
            problems.append(f"Merkle root is {check.root}, committed {manifest.root}")
            _pinpoint_rows(leaves_path, scan.rows, committed, check, current_files)
    check.ok = not problems
    return check


def _file_problems(manifest: Manifest, current: dict[str, str]) -> list[str]:
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
