"""The ingested tables on disk: one Parquet file per table and committed block range
(``OUT/<table>/block_range=N/part-START-END.parquet``), written atomically, and cut back when
a reorganisation replaces blocks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from proofmind.intel.etherscan import BLOCK_RANGE
from proofmind.intel.ingest._mapper import TABLES
from proofmind.intel.tables import arrow_schema

SCHEMAS = {table: arrow_schema(table) for table in TABLES}


def _part(out: Path, table: str, start: int, end: int) -> Path:
    bucket = start // BLOCK_RANGE * BLOCK_RANGE
    return out / table / f"block_range={bucket}" / f"part-{start:012d}-{end:012d}.parquet"


def _parts(out: Path, table: str) -> list[tuple[int, int, Path]]:
    found = []
    for path in (out / table).glob("block_range=*/part-*.parquet"):
        _, start, end = path.stem.split("-")
        found.append((int(start), int(end), path))
    return sorted(found)


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
                kept = pq.read_table(path).filter(
                    pa.compute.less(pa.compute.field("block_number"), fork_block)
                )
                tmp = path.with_suffix(".tmp")
                pq.write_table(kept, tmp)
                renamed = path.with_name(f"part-{start:012d}-{fork_block - 1:012d}.parquet")
                tmp.replace(renamed)
                if renamed != path:
                    path.unlink()
