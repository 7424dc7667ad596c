"""Import Etherscan-format exports (``txlist`` and ``tokentx`` CSVs) into the canonical
tables: Parquet files partitioned by block range, read through DuckDB views.

Canonical ``transactions``: block_number, timestamp, hash, tx_index, nonce, from_address,
to_address, value_wei, gas, gas_price, gas_used, status (1 ok / 0 failed), input, method_id,
contract_address. Canonical ``erc20_transfers``: block_number, timestamp, hash, log_index (null:
Etherscan does not give it), token, from_address, to_address, value (base units, as exact
decimal text: token amounts can exceed 128 bits),
token_decimals, token_name, token_symbol. Addresses are lower-case; a transaction that appears
in two accounts' exports is stored once.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import duckdb

from proofmind.errors import ConfigError, InputError
from proofmind.intel.tables import ddl, sql_columns

T = TypeVar("T")

BLOCK_RANGE = 100_000
TX_COLUMNS = {
    "blockNumber": "BIGINT",
    "timeStamp": "BIGINT",
    "hash": "VARCHAR",
    "nonce": "BIGINT",
    "transactionIndex": "INTEGER",
    "from": "VARCHAR",
    "to": "VARCHAR",
    "value": "HUGEINT",
    "gas": "BIGINT",
    "gasPrice": "HUGEINT",
    "isError": "INTEGER",
    "input": "VARCHAR",
    "contractAddress": "VARCHAR",
    "gasUsed": "BIGINT",
    "methodId": "VARCHAR",
}
TOKEN_COLUMNS = {
    "blockNumber": "BIGINT",
    "timeStamp": "BIGINT",
    "hash": "VARCHAR",
    "from": "VARCHAR",
    "to": "VARCHAR",
    "contractAddress": "VARCHAR",
    "value": "VARCHAR",  # token amounts can exceed 128 bits: kept as exact decimal text
    "tokenName": "VARCHAR",
    "tokenSymbol": "VARCHAR",
    "tokenDecimal": "INTEGER",
}
_SCHEMAS = {table: ddl(table) for table in ("transactions", "erc20_transfers")}
ADDRESS_PATTERN = "^0x[0-9a-f]{40}$"


def table_columns(table: str) -> list[tuple[str, str]]:
    """The canonical columns of ``table`` (transactions, erc20_transfers) as (name, DuckDB type)."""
    return sql_columns(table)


_HASH = "^0x[0-9a-f]{64}$"
# A genesis allocation in a txlist export: from "GENESIS", hash "GENESIS_<the account>"
# (no 0x), block 0. Kept as an inflow with no sender (from_address NULL).
_GENESIS_HASH = "^genesis_(0x)?[0-9a-f]{40}$"


@dataclass(frozen=True)
class BadRow:
    """A row left out of an import. ``line`` is the line an editor shows (1 = the header),
    ``data_row`` the row's 0-based index among the file's data rows (Parquet has no lines)."""

    file: str
    line: int | None
    reason: str
    data_row: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line} of {self.file}" if self.line is not None else self.file
        if self.data_row is not None:
            where += f" (data row {self.data_row})"
        return f"{where}: {self.reason}"


@dataclass
class ImportReport:
    tables: dict[str, int] = field(default_factory=dict)  # table → rows written
    bad_rows: list[BadRow] = field(default_factory=list)
    # table → well-formed rows left out because an equal row was kept (a transaction in two
    # accounts' exports, or the same export given twice)
    duplicates: dict[str, int] = field(default_factory=dict)


def _kind(path: Path) -> str:
    """'transactions' or 'erc20_transfers', from the export's header."""
    import gzip

    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig") as f:
            header = f.readline().strip().split(",")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    if {"tokenSymbol", "tokenDecimal"} <= set(header):
        wanted = TOKEN_COLUMNS
        kind = "erc20_transfers"
    elif {"isError", "gasUsed"} <= set(header):
        wanted = TX_COLUMNS
        kind = "transactions"
    else:
        raise InputError(
            f"{path} is neither an Etherscan txlist nor a tokentx export",
            hint="expected the columns of Etherscan's txlist (isError, gasUsed, …) or tokentx",
        )
    missing = [c for c in wanted if c not in header]
    if missing:
        raise InputError(f"{path} lacks column(s) {', '.join(missing)}")
    return kind


def import_etherscan(paths: Sequence[Path], out_dir: Path, *, strict: bool = False) -> ImportReport:
    """Import the exports at ``paths`` into ``out_dir/<table>/block_range=N/*.parquet``.

    A row that does not parse (wrong number of cells, a non-number where a number belongs, an
    address or hash that is not one) is reported with its file and line and left out; with
    ``strict`` the first one fails the import and nothing is written."""
    if not paths:
        raise InputError("no files to import")
    report = ImportReport()
    con = new_connection()
    by_kind: dict[str, list[Path]] = {}
    for path in paths:
        by_kind.setdefault(_kind(Path(path)), []).append(Path(path))
    staged = Path(
        tempfile.mkdtemp(prefix=".import-", dir=out_dir.parent if out_dir.parent.exists() else None)
    )
    try:
        for kind, files in by_kind.items():
            columns = TX_COLUMNS if kind == "transactions" else TOKEN_COLUMNS
            rows = _load(con, kind, files, columns, report, strict)
            if rows:
                target = staged / kind
                con.execute(
                    f"COPY (SELECT *, block_number // {BLOCK_RANGE} * {BLOCK_RANGE} AS block_range "
                    f"FROM {kind}_clean ORDER BY block_number, hash) TO {sql_string(target)} "
                    "(FORMAT PARQUET, PARTITION_BY (block_range), OVERWRITE_OR_IGNORE)"
                )
            report.tables[kind] = rows
        publish_tables(staged, out_dir, by_kind)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
        con.close()
    return report


def publish_tables(staged: Path, out_dir: Path, tables: Iterable[str]) -> None:
    """Move each staged table folder into ``out_dir``, replacing the table written before."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for table in tables:
        if (staged / table).exists():
            final = out_dir / table
            if final.exists():
                shutil.rmtree(final)
            (staged / table).rename(final)


def _load(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    files: list[Path],
    columns: dict[str, str],
    report: ImportReport,
    strict: bool,
) -> int:
    listing = ", ".join(sql_string(f) for f in files)
    # every column as text first, so a bad cell is found and named by us, with its line
    con.execute(f"DROP TABLE IF EXISTS {kind}_raw")
    try:
        con.execute(
            f"CREATE TABLE {kind}_raw AS SELECT *, row_number() OVER () AS _row FROM read_csv("
            f"[{listing}], header=true, all_varchar=true, filename=true, store_rejects=true, "
            "rejects_table='rejects', rejects_scan='rejects_scan')"
        )
    except (duckdb.InvalidInputException, duckdb.IOException) as exc:
        raise csv_error(exc, files) from None
    rejected = con.execute(
        "SELECT s.file_path, e.line, arg_min(e.error_message, e.column_idx) FROM rejects e "
        "JOIN rejects_scan s USING (scan_id, file_id) GROUP BY ALL ORDER BY 1, 2"
    ).fetchall()
    for file, line, message in rejected:
        _bad(report, BadRow(str(file), int(line), str(message), int(line) - 2), strict)
    checks = []
    for name, sql_type in columns.items():
        if sql_type != "VARCHAR":
            checks.append(
                f'CASE WHEN "{name}" <> \'\' AND TRY_CAST("{name}" AS {sql_type}) IS NULL '
                f"THEN '{name} is not a number' END"
            )
    genesis = kind == "transactions"  # txlist exports list genesis allocations
    for name in ("from", "contractAddress", "to"):
        if name in columns:
            allowed = f"'{ADDRESS_PATTERN}'"
            if genesis and name == "from":
                allowed = f"'{ADDRESS_PATTERN}|^genesis$'"
            checks.append(
                f"CASE WHEN \"{name}\" <> '' AND "
                f'NOT regexp_matches(lower("{name}"), {allowed}) '
                f"THEN '{name} is not an address' END"
            )
    hashes = f"'{_HASH}|{_GENESIS_HASH}'" if genesis else f"'{_HASH}'"
    checks.append(
        f"CASE WHEN NOT regexp_matches(lower(hash), {hashes}) "
        "THEN 'hash is not a transaction hash' END"
    )
    if kind == "erc20_transfers":
        checks.append(
            "CASE WHEN NOT regexp_matches(value, '^[0-9]+$') THEN 'value is not a number' END"
        )
    problem = "coalesce(" + ", ".join(checks) + ")"
    bad = con.execute(
        f"SELECT filename, _row, {problem} FROM {kind}_raw "
        f"WHERE {problem} IS NOT NULL ORDER BY _row"
    ).fetchall()
    rejected_lines = sorted(int(line) for _, line, _ in rejected)
    first_rows = dict(
        con.execute(f"SELECT filename, min(_row) FROM {kind}_raw GROUP BY filename").fetchall()
    )
    for file, row, message in bad:
        inside = int(row) - int(first_rows[file]) + 1
        line = _line_of(inside, rejected_lines)
        _bad(report, BadRow(str(file), line, str(message), line - 2), strict)
    con.execute(f"DROP TABLE IF EXISTS {kind}_clean")
    con.execute(f"CREATE TABLE {kind}_clean AS {_canonical(kind, problem)}")
    kept = int(con.execute(f"SELECT count(*) FROM {kind}_clean").fetchone()[0])  # type: ignore[index]
    valid = con.execute(f"SELECT count(*) FROM {kind}_raw WHERE {problem} IS NULL").fetchone()
    report.duplicates[kind] = int(valid[0]) - kept  # type: ignore[index]
    return kept


def _canonical(kind: str, problem: str) -> str:
    where = f"FROM {kind}_raw WHERE {problem} IS NULL"
    if kind == "transactions":
        return (
            "SELECT DISTINCT ON (lower(hash)) "
            "CAST(blockNumber AS BIGINT) AS block_number, CAST(timeStamp AS BIGINT) AS timestamp, "
            "lower(hash) AS hash, CAST(nullif(transactionIndex, '') AS INTEGER) AS tx_index, "
            "CAST(nullif(nonce, '') AS BIGINT) AS nonce, "
            'CASE WHEN lower("from") = \'genesis\' THEN NULL ELSE lower("from") END '
            "AS from_address, "
            "nullif(lower(\"to\"), '') AS to_address, CAST(value AS DECIMAL(38,0)) AS value_wei, "
            "CAST(nullif(gas, '') AS BIGINT) AS gas, "
            "CAST(nullif(gasPrice, '') AS DECIMAL(38,0)) AS gas_price, "
            "CAST(nullif(gasUsed, '') AS BIGINT) AS gas_used, "
            "1 - CAST(isError AS INTEGER) AS status, "
            "coalesce(nullif(input, ''), '0x') AS input, nullif(methodId, '') AS method_id, "
            f"nullif(lower(contractAddress), '') AS contract_address {where}"
        )
    return (
        "SELECT DISTINCT ON "
        '(lower(hash), lower(contractAddress), lower("from"), lower("to"), value) '
        "CAST(blockNumber AS BIGINT) AS block_number, CAST(timeStamp AS BIGINT) AS timestamp, "
        "lower(hash) AS hash, CAST(NULL AS INTEGER) AS log_index, "
        'lower(contractAddress) AS token, lower("from") AS from_address, '
        "lower(\"to\") AS to_address, coalesce(nullif(ltrim(value, '0'), ''), '0') AS value, "
        "CAST(tokenDecimal AS INTEGER) AS token_decimals, tokenName AS token_name, "
        f"tokenSymbol AS token_symbol {where}"
    )


def csv_error(exc: duckdb.Error, files: Sequence[Path]) -> InputError:
    """DuckDB's CSV reader error, in one line that names the file and line. Its own message
    holds the whole offending line and the reader's settings, which can run to megabytes."""
    text = str(exc)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    named = re.search(r"file = (\S+)", text)
    where = named.group(1) if named else ", ".join(str(f) for f in files)
    at = f", line {line.group(1)}" if line else ""
    limit = re.search(r"Maximum line size of (\d+) bytes", text)
    if limit:
        size = int(limit.group(1))
        found = _first_long_line([Path(where)] if named else list(files), size)
        if found is not None:  # DuckDB's line numbers can be off by the header: ours are not
            where, at = str(found[0]), f", line {found[1]}"
        return InputError(
            f"{where}{at} is longer than the reader's block ({size / 1e6:g} MB)",
            hint="split the long line into rows, or give the data as Parquet",
        )
    first = text.splitlines()[0] if text else type(exc).__name__
    return InputError(f"cannot read {where}{at}: {first[:200]}", hint="check the file")


def _first_long_line(files: Sequence[Path], limit: int) -> tuple[Path, int] | None:
    """(file, line number) of the first line longer than ``limit`` bytes (to word an error)."""
    import gzip

    for path in files:
        opener = gzip.open if path.name.endswith(".gz") else open
        try:
            with opener(path, "rb") as raw:
                for number, line in enumerate(raw, start=1):
                    if len(line) > limit:
                        return path, number
        except OSError:
            continue
    return None


def sql_string(value: object) -> str:
    """A SQL string literal (paths are not parameters in DuckDB's table functions)."""
    return "'" + str(value).replace("'", "''") + "'"


def _line_of(row: int, rejected_lines: list[int]) -> int:
    """The file line of the ``row``-th accepted data row (line 1 is the header)."""
    line = row + 1
    for rejected in rejected_lines:
        if rejected <= line:
            line += 1
    return line


def _bad(report: ImportReport, row: BadRow, strict: bool) -> None:
    if strict:
        raise InputError(f"malformed row: {row}", hint="fix it, or import without --strict")
    report.bad_rows.append(row)


def new_connection(config: Mapping[str, str] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB without DuckDB's own terminal progress bar: it writes between a
    command's lines and output, and the long commands show their own."""
    con = duckdb.connect(config=dict(config or {}))
    con.execute("SET enable_progress_bar = false")
    return con


def reading_folder(data_dir: Path, read: Callable[[], T], seconds: float = 10.0) -> T:
    """``read()`` (queries of `connect`'s views over ``data_dir``); again when one of the
    folder's files went away while it ran, for up to ``seconds``: an ingestion following the
    chain into the folder merges its parts and cuts them back after a reorg, and DuckDB lists
    a table's files before it opens them. Then an error that names the folder."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return read()
        except duckdb.IOException as exc:
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"cannot read the tables of {data_dir}: {exc}",
                    hint="its files kept changing while they were read; try again",
                ) from exc
            time.sleep(0.01)


def connect(data_dir: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with views ``transactions`` and ``erc20_transfers`` (and ``blocks``,
    ``logs``, ``native_transfers`` when `ingest rpc` wrote them) over the Parquet files under
    ``data_dir`` (an empty table when the two main tables have no files), from
    `new_connection`."""
    con = new_connection()
    for table in ("blocks", "logs", "native_transfers"):
        if any((data_dir / table).glob("**/*.parquet")):
            pattern = sql_string(f"{data_dir / table}/**/*.parquet")
            con.execute(
                f"CREATE VIEW {table} AS SELECT * EXCLUDE (block_range) FROM read_parquet("
                f"{pattern}, hive_partitioning=true)"
            )
    for table, columns in _SCHEMAS.items():
        files = list((data_dir / table).glob("**/*.parquet"))
        if files:
            pattern = sql_string(f"{data_dir / table}/**/*.parquet")
            con.execute(
                f"CREATE VIEW {table} AS SELECT * EXCLUDE (block_range) FROM read_parquet("
                f"{pattern}, hive_partitioning=true)"
            )
        else:
            con.execute(f"CREATE TABLE {table} ({columns})")
    return con
