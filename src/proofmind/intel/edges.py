"""Import generic transfer edge lists (CSV or Parquet; the hop_sybil format) into the canonical
transfer tables, so sybil detection and features read them like ingested chain data.

Required columns: ``from``, ``to``. Optional: ``chain``, ``kind``, ``token``, ``value``,
``block_number``, ``timestamp``, ``hash``. A row whose kind mentions ``erc20`` (or that names a
token) goes to ``erc20_transfers``, any other to ``native_transfers``; missing fields are null,
and rows without a block number go to the partition ``block_range=-1``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import duckdb

from proofmind.errors import InputError
from proofmind.intel.etherscan import (
    ADDRESS_PATTERN,
    BLOCK_RANGE,
    BadRow,
    ImportReport,
    csv_error,
    new_connection,
    publish_tables,
    sql_string,
)

OPTIONAL = ("chain", "kind", "token", "value", "block_number", "timestamp", "hash")


def import_edges(paths: Sequence[Path], out_dir: Path, *, strict: bool = False) -> ImportReport:
    """Import edge lists into ``out_dir/{erc20_transfers,native_transfers}``; malformed rows
    are reported with file and line (``strict``: the first one fails and nothing is written)."""
    if not paths:
        raise InputError("no edge files to import")
    report = ImportReport()
    con = new_connection()
    parts = []
    for n, path in enumerate(paths):
        parts.append(_read(con, Path(path), n, report, strict))
    con.execute("CREATE TABLE edges AS " + " UNION ALL BY NAME ".join(parts))
    out_dir.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=".edges-", dir=out_dir))
    try:
        for table, where in (
            ("erc20_transfers", "is_erc20"),
            ("native_transfers", "NOT is_erc20"),
        ):
            count = int(con.execute(f"SELECT count(*) FROM edges WHERE {where}").fetchone()[0])  # type: ignore[index]
            report.tables[table] = count
            if not count:
                continue
            columns = (
                "block_number, timestamp, hash, CAST(NULL AS INTEGER) AS log_index, token, "
                "from_address, to_address, value, CAST(NULL AS INTEGER) AS token_decimals, "
                "CAST(NULL AS VARCHAR) AS token_name, CAST(NULL AS VARCHAR) AS token_symbol, chain"
                if table == "erc20_transfers"
                else "block_number, timestamp, hash, from_address, to_address, "
                # wei as an exact integer (canonical); a value that is not one is left out
                "CASE WHEN regexp_matches(value, '^[0-9]{1,38}$') "
                "THEN CAST(value AS DECIMAL(38,0)) END AS value_wei, chain"
            )
            con.execute(
                f"COPY (SELECT {columns}, "
                f"coalesce(block_number // {BLOCK_RANGE} * {BLOCK_RANGE}, -1) "
                f"AS block_range FROM edges WHERE {where}) TO {sql_string(staged / table)} "
                "(FORMAT PARQUET, PARTITION_BY (block_range))"
            )
        publish_tables(staged, out_dir, report.tables)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
        con.close()
    return report


def _read(
    con: duckdb.DuckDBPyConnection, path: Path, n: int, report: ImportReport, strict: bool
) -> str:
    if not path.is_file():
        raise InputError(f"{path} does not exist")
    parquet = path.name.endswith(".parquet")
    source = (
        f"read_parquet({sql_string(path)})"
        if parquet
        else f"read_csv({sql_string(path)}, header=true, all_varchar=true)"
    )
    try:
        columns = [c[0] for c in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    except duckdb.Error as exc:
        raise csv_error(exc, [path]) from None
    if not {"from", "to"} <= set(columns):
        raise InputError(f"{path} needs columns from and to (it has {', '.join(columns)})")
    raw = f"raw{n}"
    try:
        con.execute(f"CREATE TABLE {raw} AS SELECT *, row_number() OVER () AS _row FROM {source}")
    except duckdb.Error as exc:
        raise csv_error(exc, [path]) from None
    bad = con.execute(
        f'SELECT _row, "from", "to" FROM {raw} '
        f"WHERE NOT regexp_matches(lower(\"from\"), '{ADDRESS_PATTERN}') "
        f"OR NOT regexp_matches(lower(\"to\"), '{ADDRESS_PATTERN}') ORDER BY _row"
    ).fetchall()
    for row, src, dst in bad:
        reason = f"from {src!r}" if not _is_address(src) else f"to {dst!r}"
        bad_row = (
            BadRow(str(path), None, f"{reason} is not an address", int(row) - 1)
            if parquet
            else BadRow(str(path), int(row) + 1, f"{reason} is not an address", int(row) - 1)
        )
        if strict:
            raise InputError(f"malformed row: {bad_row}", hint="fix it, or import without --strict")
        report.bad_rows.append(bad_row)

    def col(name: str, cast: str = "VARCHAR") -> str:
        return f'TRY_CAST("{name}" AS {cast})' if name in columns else f"CAST(NULL AS {cast})"

    kind = col("kind")
    return (
        f"SELECT {col('block_number', 'BIGINT')} AS block_number, "
        f"{col('timestamp', 'BIGINT')} AS timestamp, "
        f'lower({col("hash")}) AS hash, lower("from") AS from_address, lower("to") AS to_address, '
        f"{col('value')} AS value, lower({col('token')}) AS token, {col('chain')} AS chain, "
        f"(coalesce(lower({kind}), '') LIKE '%erc20%' OR {col('token')} IS NOT NULL) AS is_erc20 "
        f"FROM {raw} WHERE regexp_matches(lower(\"from\"), '{ADDRESS_PATTERN}') "
        f"AND regexp_matches(lower(\"to\"), '{ADDRESS_PATTERN}')"
    )


def _is_address(value: object) -> bool:
    import re

    return isinstance(value, str) and re.match(ADDRESS_PATTERN, value.lower()) is not None
