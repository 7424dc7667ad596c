"""Reading a dataset: its files in commit order, their schemas, their rows as Arrow batches
(with errors that name the file and line), and the leaves of all its rows."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from proofmind.errors import InputError
from proofmind.provenance._hashing import Hasher, LeafWriter, leaf_block
from proofmind.provenance.dataset._encoding import SUFFIXES, DataFile
from proofmind.provenance.dataset._location import BytesFile, RemoteFile

# a local file, one in another file system (read by the worker), or one already read whole
DataPath = Path | RemoteFile | BytesFile

_BLOCK = 1 << 20  # Arrow reads ahead ~40 blocks: 1 MiB keeps that at ~40 MB
_UNSUPPORTED_HINT = "proofmind commits flat tables of numbers, text, booleans and dates"


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


def _binary(path: DataPath) -> Any:
    """``path``'s bytes as a buffered stream that iterates by line (gzip undone for .gz)."""
    raw: Any = path.open("rb")
    if str(path).endswith(".gz"):
        return gzip.GzipFile(fileobj=raw)
    return raw if isinstance(path, Path) else io.BufferedReader(raw)


def _text(path: DataPath) -> io.TextIOWrapper:
    """``path`` as text (UTF-8, a BOM dropped, gzip undone when its name ends in .gz)."""
    return io.TextIOWrapper(_binary(path), encoding="utf-8-sig", newline="")


def _arrow_source(path: DataPath) -> Any:
    """What PyArrow reads ``path`` from: the local path itself, else an open file."""
    return path if isinstance(path, Path) else path.open("rb")


def file_size(path: DataPath) -> int:
    return path.stat().st_size if isinstance(path, Path) else path.size()


def read_schema(name: str, path: DataPath) -> list[dict[str, str]]:
    try:
        if name.endswith(".parquet"):
            schema = pq.read_schema(_arrow_source(path))
            return [{"name": f.name, "type": str(f.type)} for f in schema]
        with _text(path) as text:
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


def check_types(schema: list[dict[str, str]], path: DataPath | str) -> None:
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


def read_batches(
    name: str, path: DataPath, schema: list[dict[str, str]]
) -> Iterator[pa.RecordBatch]:
    bad = _BadRow()
    try:
        if name.endswith(".parquet"):
            yield from pq.ParquetFile(_arrow_source(path)).iter_batches(batch_size=1 << 16)
            return
        names = [c["name"] for c in schema]
        if isinstance(path, Path):
            stream = pa.input_stream(str(path), compression="detect")
        else:
            gz = "gzip" if name.endswith(".gz") else None
            stream = pa.input_stream(path.open("rb"), compression=gz)
        reader = pcsv.open_csv(
            stream,
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


def _long_line(path: DataPath) -> InputError:
    """The error for a CSV line that does not fit in one of Arrow's read blocks."""
    where = "a line"
    try:
        with _binary(path) as raw:
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


def _bad_line(path: DataPath, width: int) -> int | None:
    """The line of the first record without ``width`` cells (only run to word an error)."""
    try:
        with _text(path) as text:
            reader = csv.reader(text)
            for record in reader:
                if len(record) != width:
                    return reader.line_num
    except (OSError, UnicodeDecodeError, csv.Error, InputError):
        return None
    return None


@dataclass
class Scan:
    """The leaves of a dataset as written to a file, with what the manifest needs."""

    rows: int
    schema: list[dict[str, str]]
    files: list[DataFile]


def scan_leaves(path: Path, leaves_out: Path, hasher: Hasher, progress: Any = None) -> Scan:
    files = dataset_files(path)
    total_bytes = sum(p.stat().st_size for _, p in files)
    hasher.want_pool(total_bytes // 64)  # rows are rarely shorter than 64 bytes
    schema: list[dict[str, str]] | None = None
    out: list[DataFile] = []
    rows = 0
    with leaves_out.open("wb") as sink, leaves_out.with_suffix(".pairs").open("wb") as pairs:
        writer = LeafWriter(sink, pairs)
        for name, file in files:
            file_schema = read_schema(name, file)
            if schema is None:
                check_types(file_schema, file)
                schema = file_schema
            elif file_schema != schema:
                raise InputError(
                    f"{file}: schema drift — {describe_drift(schema, file_schema)}",
                    hint=f"every file of a dataset must have the columns of {files[0][1].name}",
                )
            first = rows

            def tasks(
                name: str = name, file: Path = file, schema: list[dict[str, str]] = schema
            ) -> Iterator[tuple[pa.RecordBatch, int]]:
                nonlocal rows
                for batch in read_batches(name, file, schema):
                    yield batch, rows
                    rows += batch.num_rows
                    if progress is not None:
                        progress(batch.num_rows)

            for block, pair_parents in hasher.ordered(leaf_block, tasks()):
                writer.write(block, pair_parents)
            out.append(DataFile(name, file.stat().st_size, file_sha256(file), rows - first, first))
    if rows == 0:
        raise InputError(f"{path} has no rows", hint="a dataset needs at least one row")
    assert schema is not None
    return Scan(rows, schema, out)


def file_sha256(path: DataPath) -> str:
    """SHA-256 of the file, hex, as `sha256sum` prints it."""
    digest = hashlib.sha256()
    if isinstance(path, BytesFile):
        return hashlib.sha256(path.data).hexdigest()
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    return digest.hexdigest()


def describe_drift(want: list[dict[str, str]], got: list[dict[str, str]]) -> str:
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
