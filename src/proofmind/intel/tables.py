"""The canonical chain tables, defined once: every writer (`ingest rpc`, `ingest etherscan`,
`ingest edges`) and every reader (the DuckDB views, the Spark engine) derives its schema from
``COLUMNS``, so a table has the same column types whoever wrote it.

Amounts of ether (``value_wei``, ``gas_price``) are exact integers, ``DECIMAL(38, 0)``: wider than
any ether amount (all ether ever issued is below 10^27 wei), exact in Parquet, DuckDB, Spark and
Arrow alike. Token amounts (``erc20_transfers.value``) can use all 256 bits, more than any SQL
decimal holds, so they stay decimal text.
"""

from __future__ import annotations

import pyarrow as pa

WEI = pa.decimal128(38, 0)

COLUMNS: dict[str, list[tuple[str, pa.DataType]]] = {
    "blocks": [
        ("block_number", pa.int64()),
        ("hash", pa.string()),
        ("parent_hash", pa.string()),
        ("timestamp", pa.int64()),
        ("miner", pa.string()),
        ("gas_used", pa.int64()),
        ("gas_limit", pa.int64()),
        ("base_fee", pa.int64()),
        ("tx_count", pa.int32()),
    ],
    "transactions": [
        ("block_number", pa.int64()),
        ("timestamp", pa.int64()),
        ("hash", pa.string()),
        ("tx_index", pa.int32()),
        ("nonce", pa.int64()),
        ("from_address", pa.string()),  # NULL for a genesis allocation
        ("to_address", pa.string()),  # NULL for a contract creation
        ("value_wei", WEI),
        ("gas", pa.int64()),
        ("gas_price", WEI),
        ("gas_used", pa.int64()),
        ("status", pa.int32()),
        ("input", pa.string()),
        ("method_id", pa.string()),
        ("contract_address", pa.string()),
    ],
    "logs": [
        ("block_number", pa.int64()),
        ("hash", pa.string()),
        ("log_index", pa.int32()),
        ("address", pa.string()),
        ("topic0", pa.string()),
        ("topic1", pa.string()),
        ("topic2", pa.string()),
        ("topic3", pa.string()),
        ("data", pa.string()),
    ],
    "erc20_transfers": [
        ("block_number", pa.int64()),
        ("timestamp", pa.int64()),
        ("hash", pa.string()),
        ("log_index", pa.int32()),
        ("token", pa.string()),
        ("from_address", pa.string()),
        ("to_address", pa.string()),
        ("value", pa.string()),
        ("token_decimals", pa.int32()),
        ("token_name", pa.string()),
        ("token_symbol", pa.string()),
    ],
    "native_transfers": [
        ("block_number", pa.int64()),
        ("timestamp", pa.int64()),
        ("hash", pa.string()),
        ("from_address", pa.string()),
        ("to_address", pa.string()),
        ("value_wei", WEI),
    ],
}


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow (Parquet) schema of ``table``."""
    return pa.schema(COLUMNS[table])


def sql_type(kind: pa.DataType) -> str:
    """The DuckDB type of an Arrow column type used in ``COLUMNS``."""
    if pa.types.is_decimal(kind):
        return f"DECIMAL({kind.precision},{kind.scale})"
    names = {pa.int64(): "BIGINT", pa.int32(): "INTEGER", pa.string(): "VARCHAR"}
    return names[kind]


def sql_columns(table: str) -> list[tuple[str, str]]:
    """``table``'s columns as (name, DuckDB type)."""
    return [(name, sql_type(kind)) for name, kind in COLUMNS[table]]


def ddl(table: str) -> str:
    """The column list of ``CREATE TABLE table (…)``."""
    return ", ".join(f"{name} {kind}" for name, kind in sql_columns(table))


def canonical_select(table: str, source: str) -> str:
    """``SELECT`` of ``table``'s columns from ``source`` (a table or subquery with columns of
    the same names), each cast to its canonical type, in canonical order."""
    casts = ", ".join(f"CAST({name} AS {kind}) AS {name}" for name, kind in sql_columns(table))
    return f"SELECT {casts} FROM {source}"
