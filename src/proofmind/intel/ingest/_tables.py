"""The ingested tables on disk: one Parquet file per table and committed block range
(``OUT/<table>/block_range=N/part-START-END.parquet``), written atomically, cut back when
a reorganisation replaces blocks, and merged as they accumulate (`compact`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from proofmind.intel.etherscan import BLOCK_RANGE
from proofmind.intel.ingest._mapper import TABLES
from proofmind.intel.tables import arrow_schema

SCHEMAS = {table: arrow_schema(table) for table in TABLES}
FANOUT = 16  # this many consecutive parts of one size class are merged into one
JOURNAL = "_merging.json"  # a merge under way in a bucket folder: its result and its parts
ROW_GROUP_ROWS = 131_072  # a merge writes row groups of at least this many rows where it can


def _part(out: Path, table: str, start: int, end: int) -> Path:
    bucket = start // BLOCK_RANGE * BLOCK_RANGE
    return out / table / f"block_range={bucket}" / f"part-{start:012d}-{end:012d}.parquet"


def _parts(out: Path, table: str, bucket: str = "*") -> list[tuple[int, int, Path]]:
    found = []
    for path in (out / table).glob(f"block_range={bucket}/part-*.parquet"):
        _, start, end = path.stem.split("-")
        found.append((int(start), int(end), path))
    return sorted(found)


def compact(out: Path, through: int, *, every_bucket: bool = False) -> int:
    """Merge the parts of the bucket holding block ``through`` (or, with ``every_bucket``, of
    every bucket up to it), which must be committed through that block: while `FANOUT`
    consecutive parts are all of one size class (their block spans round down to the same
    power of `FANOUT`), they become one part. A follower that commits a block at a time so
    leaves at most a few dozen files per bucket and table instead of one per block, and each
    row is rewritten about once per size class (five in a bucket). Returns how many parts
    were merged.

    Crash-safe: the merge is written to a temporary file, its parts are listed in a journal
    (`JOURNAL`) in the bucket's folder, the temporary file is renamed in, the parts are
    removed, then the journal. `finish_merges` completes (or drops) what a crash interrupted;
    in between, readers may see the merged rows twice."""
    last = through // BLOCK_RANGE * BLOCK_RANGE
    merged = 0
    for table in TABLES:
        buckets = [last]
        if every_bucket:
            found = {int(p.name.partition("=")[2]) for p in (out / table).glob("block_range=*")}
            buckets = sorted(b for b in found if b <= last)
        for bucket in buckets:
            while True:
                run = _mergeable([p for p in _parts(out, table, str(bucket)) if p[1] <= through])
                if run is None:
                    break
                parts = [path for _, _, path in run]
                _merge(parts[0].parent, parts, run[0][0], run[-1][1], SCHEMAS[table])
                merged += len(parts)
    return merged


def _mergeable(parts: list[tuple[int, int, Path]]) -> list[tuple[int, int, Path]] | None:
    """The first `FANOUT` consecutive ``parts`` of one size class, or None."""
    for first in range(len(parts) - FANOUT + 1):
        run = parts[first : first + FANOUT]
        if len({_size_class(end - start + 1) for start, end, _ in run}) == 1:
            return run
    return None


def _size_class(blocks: int) -> int:
    """How many times ``blocks`` can be divided by `FANOUT` (a single block: 0)."""
    level = 0
    while blocks >= FANOUT:
        blocks //= FANOUT
        level += 1
    return level


def _read(path: Path, schema: pa.Schema) -> pa.Table:
    """A part's rows as written: without the ``block_range`` column that pyarrow adds from a
    ``block_range=N`` folder name (and that parts cut by a reorg once kept in the file)."""
    return pq.read_table(path, partitioning=None, columns=schema.names).cast(schema)


def _merge(folder: Path, parts: list[Path], start: int, end: int, schema: pa.Schema) -> None:
    target = folder / f"part-{start:012d}-{end:012d}.parquet"
    tmp = target.with_suffix(".tmp")
    with pq.ParquetWriter(tmp, schema) as writer:  # a part at a time: merges of busy blocks
        pending: list[pa.Table] = []  # small parts gathered into row groups of useful size
        for n, path in enumerate(parts):
            pending.append(_read(path, schema))
            if n == len(parts) - 1 or sum(t.num_rows for t in pending) >= ROW_GROUP_ROWS:
                writer.write_table(pa.concat_tables(pending))
                pending = []
    journal = folder / JOURNAL
    journal_tmp = journal.with_suffix(".tmp")
    journal_tmp.write_text(json.dumps({"into": target.name, "parts": [p.name for p in parts]}))
    journal_tmp.replace(journal)
    tmp.replace(target)
    _finish(folder)


def finish_merges(out: Path) -> None:
    """Complete the merges a crash interrupted: where the merged file was renamed in, remove
    its parts; where it was not, remove its temporary file (the parts are still whole). Then
    remove the temporary files a crash left (of a part or a journal being written): called
    before an ingestion writes, none is being written."""
    for table in TABLES:
        for journal in (out / table).glob(f"block_range=*/{JOURNAL}"):
            _finish(journal.parent)
        for leftover in (out / table).glob("block_range=*/*.tmp"):
            leftover.unlink()


def tidy(out: Path, next_block: int | None) -> int:
    """Before an ingestion writes into ``out``, whose checkpoint resumes at ``next_block``
    (None: a new folder): finish an interrupted merge, cut every row of blocks from
    ``next_block`` on (a range written but not committed, or a reorg's cut that a crash left
    half done: the part it cut beside the part it cut from), then merge the committed parts
    of every bucket (a folder written before parts were merged holds one per range). Returns
    how many parts were merged."""
    finish_merges(out)
    if not next_block:
        return 0
    undo_from(out, next_block)
    return compact(out, next_block - 1, every_bucket=True)


def _finish(folder: Path) -> None:
    journal = folder / JOURNAL
    merge = json.loads(journal.read_text())
    target = folder / merge["into"]
    if target.exists():
        for name in merge["parts"]:
            (folder / name).unlink(missing_ok=True)
    else:
        target.with_suffix(".tmp").unlink(missing_ok=True)
    journal.unlink()


def write_range(out: Path, start: int, end: int, rows: dict[str, list[dict[str, Any]]]) -> None:
    """One file per table for blocks start..end; leftovers of an uncommitted attempt at or
    after ``start`` are removed first. Each file is written to a temp name and renamed."""
    for table in TABLES:
        for s, _, path in _parts(out, table):
            if s >= start:
                path.unlink()
        target = _part(out, table, start, end)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        pq.write_table(pa.Table.from_pylist(rows[table], schema=SCHEMAS[table]), tmp)
        tmp.replace(target)


def undo_from(out: Path, fork_block: int) -> None:
    """Remove every row of blocks ≥ ``fork_block`` (a reorg replaced them)."""
    for table in TABLES:
        for start, end, path in _parts(out, table):
            if start >= fork_block:
                path.unlink()
            elif end >= fork_block:
                kept = _read(path, SCHEMAS[table]).filter(
                    pa.compute.less(pa.compute.field("block_number"), fork_block)
                )
                tmp = path.with_suffix(".tmp")
                pq.write_table(kept, tmp)
                renamed = path.with_name(f"part-{start:012d}-{fork_block - 1:012d}.parquet")
                tmp.replace(renamed)
                if renamed != path:
                    path.unlink()
