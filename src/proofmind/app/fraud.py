"""Fraud scores of addresses: the trained LightGBM model over the features of a folder that
`proofmind ingest` wrote (`proofmind fraud score`, and the HTTP API's /fraud/scores).

An address without a single transaction in the data has an all-empty feature vector, which
the model would score confidently: it gets the status "no data" and no score, an answer in
its own right.
"""

from __future__ import annotations

import functools
import itertools
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proofmind.addresses import parse_address
from proofmind.errors import ConfigError, InputError, RecordMismatch

if TYPE_CHECKING:
    import duckdb
    import lightgbm as lgb
    import numpy as np
    from numpy.typing import NDArray

    from proofmind.provenance.ledger import LocalRecord
    from proofmind.workspace import Workspace

SCORED, NO_DATA = "scored", "no data"
MAX_BATCH = 1000  # addresses per API request: features of each are one DuckDB pass
# the tables the features read (of those `intel.etherscan.connect` opens): held in memory by
# a service, their Parquet files key that copy
TABLES = ("transactions", "erc20_transfers")
MEMO_ADDRESSES = 50_000  # feature vectors kept per data folder (about 0.5 KB each)


@dataclass(frozen=True)
class FraudScore:
    """``score`` is P(illicit) when ``status`` is "scored", else None; ``explanation``: the
    largest feature contributions (to the log-odds), largest first, when asked for."""

    address: str
    status: str
    score: float | None = None
    explanation: tuple[tuple[str, float], ...] = field(default_factory=tuple)


def score_view(found: FraudScore) -> dict[str, Any]:
    doc: dict[str, Any] = {"address": found.address, "status": found.status, "score": found.score}
    if found.explanation:
        doc["explanation"] = {name: round(v, 4) for name, v in found.explanation}
    return doc


def check_addresses(items: Sequence[str]) -> list[str]:
    """The addresses, checked as the CLI checks them, lower-cased, each once (in order)."""
    if len(items) > MAX_BATCH:
        raise InputError(
            f"{len(items):,} addresses in one request; at most {MAX_BATCH:,}",
            hint="split the batch, or score every address with `proofmind fraud score --out`",
        )
    out: dict[str, None] = {}
    for item in items:
        out[parse_address(str(item)).lower()] = None
    return list(out)


def _stamp(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
        return stat.st_mtime_ns, stat.st_size
    except OSError:
        return 0, 0  # reading the file says what is wrong with the path


def load_model(path: Path) -> lgb.Booster:
    """The model at ``path``, loaded again only when the file changes."""
    return _model(path, _stamp(path))


@functools.lru_cache(maxsize=4)
def _model(path: Path, _stamp: tuple[int, int]) -> lgb.Booster:
    from proofmind.intel.fraud import load_model as load

    return load(path)


@dataclass(frozen=True)
class RegisteredModel:
    """A model of the workspace's ledger, its file checked against the record's keccak-256:
    ``booster`` is loaded from exactly the bytes that were hashed."""

    record: LocalRecord
    path: Path
    booster: lgb.Booster


def registered_model(workspace: Workspace, ref: str) -> RegisteredModel:
    """The fraud model of record ``ref`` (a local key or 0x id of a ``model`` record, as
    `fraud train --register` or `provenance model` made it). Refused when its file is gone or
    its keccak-256 is not the record's: a model is used only as it was registered. Loaded
    again only when the file or the record changes."""
    from proofmind.app.records import get_record

    record = get_record(workspace, ref, kind="model")
    if record.path is None:
        raise RecordMismatch(
            f"model record {ref} names no file in this workspace",
            hint="register the model file here (`proofmind provenance model FILE`)",
        )
    path = Path(record.path)
    if not path.is_file():
        raise RecordMismatch(
            f"no model at {path}: the file of model record {ref} is gone",
            hint="restore it (`proofmind verify` checks it), or train and register one with "
            "`proofmind fraud train --register`",
        )
    return _registered(record, ref, path, _stamp(path))


def resolve_model(model: str, workspace: Path | None = None) -> Path | RegisteredModel:
    """``model`` as the CLI's --model takes it: a model file, or (when no such file exists)
    the local key or 0x id of a model record in the workspace, checked as
    `registered_model` checks it."""
    from proofmind.app.records import is_record_ref

    path = Path(model)
    if path.exists() or not is_record_ref(model):
        return path
    from proofmind.workspace import open_workspace

    return registered_model(open_workspace(workspace), model)


@functools.lru_cache(maxsize=8)
def _registered(
    record: LocalRecord, ref: str, path: Path, _stamp: tuple[int, int]
) -> RegisteredModel:
    from proofmind.crypto.keccak import keccak256_hex
    from proofmind.intel.fraud import model_from_bytes, read_model

    data = read_model(path)
    actual = keccak256_hex(data)
    if actual != record.content_hash.lower():
        raise RecordMismatch(
            f"model {path} is not the model of record {ref} (its keccak-256 is {actual}, the "
            f"record's {record.content_hash})",
            hint=f"restore the registered file (`proofmind verify {path.name}` shows what "
            "changed), or register this one (`proofmind fraud train --register`, `proofmind "
            "provenance model`) and name its record",
        )
    return RegisteredModel(record, path, model_from_bytes(data, path))


def _file_rows(files: list[str]) -> str:
    """SQL of the rows of ``files`` (SQL strings of Parquet paths), each with its file in
    ``_file`` (without the ``block_range`` column read from the folder names)."""
    return (
        "SELECT * EXCLUDE (block_range, filename), filename AS _file FROM "
        f"read_parquet([{', '.join(files)}], hive_partitioning=true, filename=true)"
    )


class _Tables:
    """The canonical tables of one data folder, loaded into an in-memory DuckDB, and the
    feature vectors of the addresses asked about so far (None: no data). ``stamp`` lists the
    folder's Parquet files (names, sizes, mtimes) the tables hold; each row remembers its
    file, so a change of the folder is applied file by file (`refresh`)."""

    def __init__(self, data: Path, stamp: tuple[tuple[str, int, int], ...]) -> None:
        from proofmind.intel.etherscan import connect, sql_string

        self.data = data
        self.stamp = stamp
        self.lock = threading.Lock()  # one DuckDB connection: one query at a time
        self.con: duckdb.DuckDBPyConnection = connect(data)
        self.kept: set[str] = set()  # the tables read from files, which refresh updates
        for table in TABLES:
            kind = self.con.execute(
                "SELECT table_type FROM information_schema.tables WHERE table_name = ?", [table]
            ).fetchone()
            if kind is not None and kind[0] == "VIEW":  # a view reads the files on every query
                files = [sql_string(path) for path, _, _ in stamp if self._of(table, path)]
                rows = (  # the stamp was taken first: files may have come since (read later)
                    _file_rows(files)
                    if files
                    else f"SELECT *, ''::VARCHAR AS _file FROM {table} LIMIT 0"
                )
                self.con.execute(f"CREATE TABLE _rows_{table} AS {rows}")
                self.con.execute(f"DROP VIEW {table}")
                self.con.execute(
                    f"CREATE VIEW {table} AS SELECT * EXCLUDE (_file) FROM _rows_{table}"
                )
                self.kept.add(table)
        self.rows = sum(self._count(table) for table in self.kept)
        self.removed = 0  # rows removed since the load: DuckDB keeps their space for now
        self.names: dict[int | None, list[str]] = {}
        self.memo: OrderedDict[tuple[int | None, str], NDArray[np.float64] | None] = OrderedDict()

    def _of(self, table: str, path: str) -> bool:
        return path.startswith(str(self.data / table) + os.sep)

    def _count(self, table: str) -> int:
        found = self.con.execute(f"SELECT count(*) FROM _rows_{table}").fetchone()
        return int(found[0]) if found else 0

    def refresh(self, stamp: tuple[tuple[str, int, int], ...]) -> bool:
        """Apply the folder's change since ``self.stamp``: the rows of files gone or rewritten
        removed, those of new or rewritten files read, the features of their addresses forgotten.
        A follower appending a block or merging parts so costs the files that changed, not the
        whole folder. False (nothing changed) when a table that had no files has some now, a
        file goes away while it is read, or more rows were removed since the load than it
        read: load the folder afresh then."""
        import duckdb

        from proofmind.intel.etherscan import sql_string

        before = {path: (mtime, size) for path, mtime, size in self.stamp}
        after = {path: (mtime, size) for path, mtime, size in stamp}
        gone = [path for path, seen in before.items() if after.get(path) != seen]
        came = [path for path, seen in after.items() if before.get(path) != seen]
        if any(self._of(t, p) for t in TABLES if t not in self.kept for p in came):
            return False
        touched: set[str] = set()  # the addresses of the rows removed or added

        def addresses(table: str, files: list[str]) -> None:
            listed = ", ".join(files)
            for column in ("from_address", "to_address"):
                found = self.con.execute(
                    f"SELECT DISTINCT {column} FROM _rows_{table} WHERE _file IN ({listed}) "
                    f"AND {column} IS NOT NULL"
                ).fetchall()
                touched.update(str(row[0]) for row in found)

        self.con.begin()
        try:
            for table in self.kept:
                old = [sql_string(path) for path in gone if self._of(table, path)]
                if old:
                    addresses(table, old)
                    listed = ", ".join(old)
                    deleted = self.con.execute(
                        f"DELETE FROM _rows_{table} WHERE _file IN ({listed})"
                    ).fetchone()
                    self.removed += int(deleted[0]) if deleted else 0
                new = [sql_string(path) for path in came if self._of(table, path)]
                if new:
                    self.con.execute(f"INSERT INTO _rows_{table} BY NAME {_file_rows(new)}")
                    addresses(table, new)
            if self.removed > self.rows:  # merges remove and add the same rows again and again
                self.con.rollback()
                return False  # loaded afresh: the removed rows' memory is given back
        except duckdb.IOException:
            self.con.rollback()
            return False
        self.con.commit()
        self.stamp = stamp
        # an address's features come from its own rows only: only the features of the
        # addresses in the rows that changed are computed again
        for key in [key for key in self.memo if key[1] in touched]:
            del self.memo[key]
        return True

    def features(
        self, addresses: Sequence[str], first_n: int | None
    ) -> tuple[list[str], dict[str, NDArray[np.float64]]]:
        """The feature names and the vectors of the ``addresses`` that have data."""
        from proofmind.intel.fraud import address_features, with_data

        with self.lock:
            missing = [a for a in addresses if (first_n, a) not in self.memo]
            if missing:
                present = with_data(self.con, missing)
                computed = address_features(self.con, [a for a in missing if a in present], first_n)
                self.names[first_n] = computed.names
                rows = dict(zip(computed.addresses, computed.matrix, strict=True))
                for a in missing:
                    self.memo[(first_n, a)] = rows.get(a)
            found: dict[str, NDArray[np.float64]] = {}
            for a in addresses:
                self.memo.move_to_end((first_n, a))
                vector = self.memo[(first_n, a)]
                if vector is not None:
                    found[a] = vector
            while len(self.memo) > MEMO_ADDRESSES:
                self.memo.popitem(last=False)
            if first_n not in self.names:  # every address asked about so far had no data
                self.names[first_n] = address_features(self.con, [], first_n).names
            return self.names[first_n], found


_TABLES: dict[Path, _Tables] = {}
_TABLES_LOCK = threading.Lock()


def data_stamp(data: Path) -> tuple[tuple[str, int, int], ...]:
    """The Parquet files of ``data``'s tables with their mtimes and sizes: what a change of
    the data (a new ingest, a file rewritten or removed) changes. About 3 ms of CPU for 300
    files (one ``scandir`` per folder)."""
    found: list[tuple[str, int, int]] = []
    folders = [str(data / table) for table in TABLES]
    while folders:
        try:
            entries = os.scandir(folders.pop())
        except OSError:
            continue  # no such table (or removed while we looked: the stamp differs anyway)
        with entries:
            for entry in entries:
                if entry.is_dir():  # as the tables are read: through symlinks too
                    folders.append(entry.path)
                elif entry.name.endswith(".parquet"):
                    try:
                        stat = entry.stat()
                    except OSError:
                        continue
                    found.append((entry.path, stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(found))


def _tables(data: Path) -> _Tables:
    """The loaded tables of ``data``, loaded again when its files changed."""
    key = data.resolve()
    stamp = data_stamp(key)
    with _TABLES_LOCK:
        loaded = _TABLES.get(key)
        if loaded is not None and loaded.stamp == stamp:
            return loaded
        if loaded is not None:
            with loaded.lock:  # a scoring on these tables finishes first
                if loaded.refresh(stamp):
                    return loaded
        # tables replaced are dropped, not closed: a scoring that holds them finishes on
        # them, and DuckDB frees them with the last reference
        _TABLES.pop(key, None)
        if len(_TABLES) >= 2:  # a service reads one folder; a test or two at most
            _TABLES.pop(next(iter(_TABLES)))
        fresh = _TABLES[key] = _load(key, stamp)
        return fresh


def _load(data: Path, stamp: tuple[tuple[str, int, int], ...]) -> _Tables:
    """The tables of ``data`` loaded; again, keyed by the folder's files as they are then,
    when a file went away while they were read (see `reading_folder`)."""
    from proofmind.intel.etherscan import reading_folder

    attempts = itertools.count()

    def load() -> _Tables:
        return _Tables(data, stamp if next(attempts) == 0 else data_stamp(data))

    return reading_folder(data, load)


def clear_tables() -> None:
    """Drop the loaded tables (they are loaded again when next asked for)."""
    with _TABLES_LOCK:
        _TABLES.clear()


def _features_once(
    data: Path, addresses: Sequence[str], first_n: int | None
) -> tuple[list[str], dict[str, NDArray[np.float64]]]:
    """The feature names and vectors (of the addresses with data) in one pass over the files
    (again when one goes away meanwhile: see `reading_folder`)."""
    from proofmind.intel.etherscan import connect, reading_folder
    from proofmind.intel.fraud import address_features, with_data

    def read() -> tuple[list[str], dict[str, NDArray[np.float64]]]:
        con = connect(data)
        try:
            present = with_data(con, list(addresses))
            if not present:
                return [], {}
            computed = address_features(con, [a for a in addresses if a in present], first_n)
            return computed.names, dict(zip(computed.addresses, computed.matrix, strict=True))
        finally:
            con.close()

    return reading_folder(data, read)


def score_addresses(
    data: Path,
    model: Path | RegisteredModel,
    addresses: Sequence[str],
    *,
    explain_top: int = 0,
    first_n: int | None = None,
    cache: bool = False,
) -> list[FraudScore]:
    """A score (or "no data") for each of ``addresses`` (checked, lower-case), in order, by
    the model file ``model`` or a registered model. ``cache``: keep the data folder's tables
    and the features computed in memory for the next call (a service; loaded again when the
    folder's files change); else one pass over the files (the CLI)."""
    import numpy as np

    from proofmind.intel.fraud import explain, require_data

    if isinstance(model, RegisteredModel):
        booster, model_path = model.booster, model.path
    else:
        booster, model_path = load_model(model), model
    require_data(data)
    if cache:
        names, rows = _tables(data).features(addresses, first_n)
    else:
        names, rows = _features_once(data, addresses, first_n)
    scores: dict[str, float] = {}
    reasons: dict[str, list[tuple[str, float]]] = {}
    if rows:
        if names != booster.feature_name():
            raise InputError(
                f"{model_path} was trained on other features",
                hint="retrain it with this version of proofmind",
            )
        scored = [a for a in addresses if a in rows]
        matrix = np.vstack([rows[a] for a in scored])
        predicted = [float(p) for p in np.asarray(booster.predict(matrix))]
        scores = dict(zip(scored, predicted, strict=True))
        if explain_top:
            found = explain(booster, matrix, names, explain_top)
            reasons = dict(zip(scored, found, strict=True))
    return [
        FraudScore(a, SCORED, scores[a], tuple(reasons.get(a, ())))
        if a in scores
        else FraudScore(a, NO_DATA)
        for a in addresses
    ]


def scoring_inputs(project: Path, model: Path | None, data: Path | None) -> tuple[Path, Path]:
    """The model file and data folder a service scores with: as configured (relative paths
    start at the project folder), else the CLI's defaults there (fraud-model.txt, chaindata)."""
    chosen_model = model or Path("fraud-model.txt")
    model_path = chosen_model if chosen_model.is_absolute() else project / chosen_model
    if not model_path.is_file():
        raise ConfigError(
            f"no fraud model at {model_path}",
            hint="train one with `proofmind fraud train` (or `--register`), or set [api] "
            "fraud_model (PROOFMIND_API_FRAUD_MODEL) to its file",
        )
    return model_path, scoring_data(project, data)


def scoring_data(project: Path, data: Path | None) -> Path:
    """The data folder a service scores over: as configured, else chaindata in the project."""
    chosen_data = data or Path("chaindata")
    data_path = chosen_data if chosen_data.is_absolute() else project / chosen_data
    if not data_path.is_dir():
        raise ConfigError(
            f"no ingested data at {data_path}",
            hint="write it with `proofmind ingest`, or set [api] fraud_data "
            "(PROOFMIND_API_FRAUD_DATA) to the folder",
        )
    return data_path
