"""`fraud features` and `fraud score --engine spark|--out`: features and scores as Parquet, on
DuckDB (this machine) or Spark (a cluster). Imported only when one of them runs."""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proofmind.cli.consoles import TextConsole
from proofmind.cli.params import Engine, check_writable
from proofmind.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import duckdb
    import lightgbm as lgb
    import pyarrow as pa

    from proofmind.app.fraud import RegisteredModel
    from proofmind.intel.fraud import Features

err = TextConsole(stderr=True, soft_wrap=True)


def _score_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([("address", pa.string()), ("status", pa.string()), ("score", pa.float64())])


def data_location(data: str, engine: Engine) -> str:
    """``data`` checked as far as it can be before any work: a local folder must exist and
    hold the canonical tables; a URI (s3a://, hdfs://…) is for the Spark engine only."""
    from proofmind.intel.fraud import require_data
    from proofmind.intel.spark import local_path

    path = local_path(data)
    if path is None:
        if engine is not Engine.spark:
            raise InputError(
                f"--data {data} is a URI: only the Spark engine reads other file systems",
                hint="add --engine spark, or copy the tables to a local folder",
            )
        return data
    require_data(path)
    return str(path)


def out_location(out: str, engine: Engine) -> str:
    """``out`` checked writable now (local paths), so a long job does not fail at its end."""
    from proofmind.intel.spark import local_path

    path = local_path(out)
    if path is None:
        if engine is not Engine.spark:
            raise InputError(
                f"--out {out} is a URI: only the Spark engine writes other file systems",
                hint="add --engine spark, or give a local file",
            )
        return out
    if path.suffix.lower() != ".parquet" and engine is Engine.duckdb:
        raise InputError(
            f"--out {out} does not end in .parquet", hint="name it e.g. scores.parquet"
        )
    check_writable(path, folder=engine is Engine.spark)
    return str(path)


def _checked(
    addresses: list[str], data: str, out: str, engine: Engine
) -> tuple[list[str] | None, str, str]:
    """The addresses (None: every address), data and output, each checked before any work."""
    from proofmind.cli.intel import _addresses

    wanted = _addresses(addresses) if addresses else None
    return wanted, data_location(data, engine), out_location(out, engine)


def _spark(data: str, master: str | None) -> Any:
    """A Spark session with the canonical tables of ``data`` registered."""
    from proofmind.intel import spark as sp

    session = sp.session(master)
    sp.register_tables(session, data)
    return session


def run_features(
    data: str,
    addresses: list[str],
    out: str,
    engine: Engine,
    master: str | None,
    batch_rows: int | None = None,
) -> None:
    wanted, data, out = _checked(addresses, data, out, engine)
    started = time.monotonic()
    if engine is Engine.spark:
        from proofmind.intel import spark as sp

        session = _spark(data, master)
        with err.status("computing features on Spark…"):
            sp.write_parquet(sp.address_features(session, wanted), out)
            rows = session.read.parquet(out).count()
    else:
        import pyarrow as pa

        from proofmind.intel.etherscan import connect
        from proofmind.intel.fraud import address_features

        con = connect(Path(data))
        rows_of = address_rows(con, wanted)
        # an address asked for without data is featured too, with no rows: its features are
        # null and has_data false; each address once, the batches in address order, each
        # written as it comes (the memory held is one batch's)
        order = sorted(set(wanted)) if wanted is not None else list(rows_of)
        batches = featured(con, {a: rows_of.get(a, 0) for a in order}, batch_rows)
        first = next(batches, None)  # the feature names come with it (a query only if none)
        names = first.names if first is not None else address_features(con, []).names
        schema = pa.schema(
            [("address", pa.string()), *((n, pa.float64()) for n in names),
             ("has_data", pa.bool_())]
        )  # fmt: skip
        rows = 0
        with parquet_sink(Path(out), schema) as write:
            for batch in chain([first] if first is not None else [], batches):
                # a feature the SQL leaves NULL is NaN in the matrix: written as null again,
                # as Spark writes it (the SQL never divides by zero, so a NaN is a NULL)
                columns = {
                    n: pa.array(batch.matrix[:, j], from_pandas=True)
                    for j, n in enumerate(batch.names)
                }
                write(
                    pa.table(
                        {
                            "address": batch.addresses,
                            **columns,
                            "has_data": [a in rows_of for a in batch.addresses],
                        },
                        schema=schema,
                    )
                )
                rows += len(batch.addresses)
    err.print(
        f"features of {rows:,} address(es) → {out} ({engine.value}, "
        f"{time.monotonic() - started:.1f} s)"
    )


def run_score_out(
    data: str,
    model_path: Path | RegisteredModel,
    addresses: list[str],
    out: str,
    engine: Engine,
    master: str | None,
    batch_rows: int | None = None,
) -> None:
    """Scores as Parquet (address, status, score): every address in the data when none is
    given."""
    from proofmind.app.fraud import RegisteredModel
    from proofmind.intel.fraud import load_model

    model = (
        model_path.booster if isinstance(model_path, RegisteredModel) else load_model(model_path)
    )
    wanted, data, out = _checked(addresses, data, out, engine)
    started = time.monotonic()
    if engine is Engine.spark:
        from proofmind.intel import spark as sp

        session = _spark(data, master)
        with err.status("scoring on Spark…"):
            sp.write_parquet(sp.score(sp.address_features(session, wanted), model), out)
            written = session.read.parquet(out)
            total = written.count()
            scored = written.where("status = 'scored'").count()
    else:
        from proofmind.intel.etherscan import connect

        con = connect(Path(data))
        total = scored = 0
        with parquet_sink(Path(out), _score_schema()) as write:
            for table in score_batches(con, model, wanted, batch_rows):
                write(table)
                total += table.num_rows
                scored += table.num_rows - table.column("score").null_count
    err.print(
        f"{scored:,} of {total:,} address(es) scored → {out} ({engine.value}, "
        f"{time.monotonic() - started:.1f} s)"
    )
    if not scored:
        raise InputError(
            f"none of the {total:,} address(es) has a transaction in {data}: nothing scored",
            hint="ingest their transactions first, or check --data",
        )
    if scored < total:
        err.print(f"{total - scored:,} address(es) have no data in {data} (status 'no data')")


def address_rows(con: duckdb.DuckDBPyConnection, wanted: list[str] | None) -> dict[str, int]:
    """The rows of each address with data among ``wanted`` (None: every address)."""
    from proofmind.intel.fraud import address_rows as count

    with err.status("finding the addresses and their rows…"):
        return count(con, wanted)


def featured(
    con: duckdb.DuckDBPyConnection, rows: dict[str, int], batch_rows: int | None = None
) -> Iterator[Features]:
    """The features of the addresses of ``rows`` in batches of bounded memory (at most
    ``batch_rows`` rows, default `BATCH_ROWS`), with a progress bar over the rows."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from proofmind.intel.fraud import feature_batches

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(
            f"features of {len(rows):,} address(es), rows", total=sum(rows.values())
        )
        for batch in feature_batches(con, rows, batch_rows):
            progress.advance(task, sum(rows[a] for a in batch.addresses))
            yield batch


def score_batches(
    con: duckdb.DuckDBPyConnection,
    model: lgb.Booster,
    wanted: list[str] | None,
    batch_rows: int | None = None,
) -> Iterator[pa.Table]:
    """``address, status, score`` of ``wanted`` (None: every address in the data) on DuckDB,
    the same columns as on Spark, in address order: the features computed and scored batch by
    batch, each batch's scores a table of its own. An address without data goes through its
    batch with no rows and gets status 'no data' and no score."""
    import numpy as np
    import pyarrow as pa

    rows = address_rows(con, wanted)
    ordered = sorted(set(wanted)) if wanted is not None else list(rows)
    for features in featured(con, {a: rows.get(a, 0) for a in ordered}, batch_rows):
        if features.names != model.feature_name():
            raise InputError(
                "the model was trained on other features",
                hint="retrain it with this version of proofmind",
            )
        has = np.array([a in rows for a in features.addresses], dtype=np.bool_)
        predicted = np.full(len(has), np.nan)
        if has.any():
            predicted[has] = np.asarray(model.predict(features.matrix[has]), dtype=np.float64)
        yield pa.table(
            {
                "address": features.addresses,
                "status": np.where(has, "scored", "no data").tolist(),
                "score": pa.array(predicted, type=pa.float64(), mask=~has),
            },
            schema=_score_schema(),
        )


@contextmanager
def parquet_sink(out: Path, schema: pa.Schema) -> Iterator[Callable[[pa.Table], None]]:
    """A writer of tables of ``schema`` into the Parquet file ``out``, one row group after
    another, whole or not at all: a temporary file beside it, renamed when the block ends
    without an error (an empty table when nothing was written), removed otherwise."""
    import pyarrow.parquet as pq

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        with pq.ParquetWriter(tmp, schema) as writer:
            yield writer.write_table
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
