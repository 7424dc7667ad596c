"""Address features and fraud scores on Apache Spark, for data one machine cannot hold.

The features are defined once, in ``address_features.sql`` (DuckDB's dialect); this module
translates that query to Spark SQL with sqlglot instead of keeping a second copy, so the two
engines cannot drift apart. What the translation has to fix by hand:

- DuckDB's HUGEINT (exact 128-bit wei sums) becomes ``DECIMAL(38, 0)``, which is exact too;
- ``list_aggregate(list_sort(list(x)), 'f')`` (DuckDB reduces a *sorted* list so that a
  floating-point sum is the same whatever the thread order) becomes
  ``aggregate(array_sort(collect_list(x)), …)`` with the same update step, so the same bits;
- a decimal literal such as ``86400.0`` is a DOUBLE in DuckDB and a DECIMAL in Spark, which
  changes the precision of every division it takes part in: it is cast to DOUBLE;
- ``* EXCLUDE (col)`` (DuckDB) is expanded to the column list, which Spark needs spelled out.

Two rewrites keep the same numbers and only change how Spark runs them:

- a ``min``/``max`` window over ``ROWS BETWEEN n FOLLOWING AND UNBOUNDED FOLLOWING`` runs over
  the reversed order, ``ROWS BETWEEN UNBOUNDED PRECEDING AND n PRECEDING``: Spark recomputes a
  frame that ends at UNBOUNDED FOLLOWING for every row (quadratic in an account's rows) but
  grows one that starts at UNBOUNDED PRECEDING;
- ``COUNT(DISTINCT x)`` becomes ``size(collect_set(x))``: several distinct counts in one GROUP
  BY make Spark copy every row once per distinct argument and aggregate twice.

Scoring runs the LightGBM model on each partition with ``mapInPandas``: the model travels to the
executors as its text, the features never leave them.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlparse

import sqlglot
from sqlglot import exp

from proofmind.errors import ConfigError, InputError
from proofmind.intel.etherscan import table_columns
from proofmind.intel.fraud import features_sql

if TYPE_CHECKING:
    import lightgbm as lgb
    from pyspark.sql import DataFrame, SparkSession

TABLES = ("transactions", "erc20_transfers")
# DuckDB's reductions of a sorted list, step for step (the same IEEE operations in the same
# order give the same bits): avg sums then divides; stddev_samp is Welford's update
_SORTED_REDUCTIONS = {
    "avg": "aggregate({values}, CAST(0 AS DOUBLE), (s, v) -> s + v, "
    "s -> CASE WHEN size({values}) = 0 THEN NULL ELSE s / size({values}) END)",
    "stddev_samp": "aggregate({values}, named_struct('n', CAST(0 AS BIGINT), 'mean', "
    "CAST(0 AS DOUBLE), 'm2', CAST(0 AS DOUBLE)), (s, v) -> named_struct('n', s.n + 1, "
    "'mean', s.mean + (v - s.mean) / (s.n + 1), 'm2', s.m2 + (v - s.mean) * "
    "(v - (s.mean + (v - s.mean) / (s.n + 1)))), "
    "s -> CASE WHEN s.n < 2 THEN NULL ELSE sqrt(s.m2 / (s.n - 1)) END)",
}
_SPARK_TYPES = {"VARCHAR": "STRING", "INTEGER": "INT"}


def to_spark_sql(sql: str) -> str:
    """The DuckDB query ``sql`` in Spark SQL (see the module's docstring for what changes)."""
    return _translate(sql).sql(dialect="spark", comments=False)


def _translate(sql: str) -> exp.Expression:
    tree = sqlglot.parse_one(sql, read="duckdb")
    ctes = {c.alias: c.this for c in tree.find_all(exp.CTE)}

    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.INT128:
            return exp.DataType.build("DECIMAL(38, 0)")
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "list_aggregate":
            listed, how = node.expressions
            if isinstance(listed, exp.ArraySort):
                listed = listed.this
            if not isinstance(listed, exp.ArrayAgg) or str(how.this) not in _SORTED_REDUCTIONS:
                raise ValueError(f"cannot translate {node.sql('duckdb')}")
            values = f"array_sort(collect_list({listed.this.sql(dialect='spark')}))"
            reduction = _SORTED_REDUCTIONS[str(how.this)].format(values=values)
            return cast(exp.Expression, sqlglot.parse_one(reduction, read="spark"))
        if isinstance(node, exp.Window):
            _reverse_following_frame(node)
        if (
            isinstance(node, exp.Count)
            and isinstance(node.this, exp.Distinct)
            and len(node.this.expressions) == 1
        ):
            # Spark plans several COUNT(DISTINCT …) of one GROUP BY by copying every row once
            # per distinct argument (Expand) and aggregating twice; a set per group is one pass
            counted = sqlglot.parse_one("CAST(size(collect_set(_x)) AS BIGINT)", read="spark")
            placeholder = counted.find(exp.Column)
            assert placeholder is not None
            placeholder.replace(node.this.expressions[0].copy())
            return counted.transform(fix)  # the argument as any other expression
        if isinstance(node, exp.Literal) and not node.is_string:
            text = str(node.this)
            if "." in text and "e" not in text.lower():
                return exp.Cast(this=node.copy(), to=exp.DataType.build("DOUBLE"))
        return node

    tree = tree.transform(fix)
    for column in list(tree.find_all(exp.Column)):
        star = column.this
        if not isinstance(star, exp.Star) or not star.args.get("except_"):
            continue
        source = ctes.get(column.table)
        if not isinstance(source, exp.Select):
            raise ValueError(f"cannot expand {column.sql('duckdb')}: {column.table} is not a CTE")
        dropped = {c.name for c in star.args["except_"]}
        kept = [n for n in source.named_selects if n not in dropped]
        replacement = [exp.column(n, table=column.table) for n in kept]
        select = column.parent
        if not isinstance(select, exp.Select):
            raise ValueError(f"cannot expand {column.sql('duckdb')} outside a SELECT list")
        at = select.expressions.index(column)
        select.set(
            "expressions", [*select.expressions[:at], *replacement, *select.expressions[at + 1 :]]
        )
    return tree


def _reverse_following_frame(window: exp.Window) -> None:
    """``min|max(x) OVER (… ORDER BY k ROWS BETWEEN n FOLLOWING AND UNBOUNDED FOLLOWING)``
    becomes the same window over the reversed order, ``ROWS BETWEEN UNBOUNDED PRECEDING AND
    n PRECEDING``: the same rows in each frame, so the same minimum. Spark recomputes an
    aggregate over a frame that ends at UNBOUNDED FOLLOWING for every row (quadratic in the
    rows of a partition: hours for an account with 100,000 transactions), while it grows a
    frame that starts at UNBOUNDED PRECEDING one row at a time."""
    spec, order = window.args.get("spec"), window.args.get("order")
    if (
        not isinstance(spec, exp.WindowSpec)
        or not isinstance(order, exp.Order)
        or not isinstance(window.this, exp.Min | exp.Max)
        or str(spec.args.get("kind")).upper() != "ROWS"
        or str(spec.args.get("end")).upper() != "UNBOUNDED"
        or str(spec.args.get("end_side")).upper() != "FOLLOWING"
    ):
        return
    start, side = spec.args.get("start"), str(spec.args.get("start_side") or "").upper()
    if side == "FOLLOWING":
        spec.set("end", start.copy() if isinstance(start, exp.Expression) else start)
        spec.set("end_side", "PRECEDING")
    elif str(start).upper() == "CURRENT ROW":
        spec.set("end", "CURRENT ROW")
        spec.set("end_side", None)
    else:
        return
    spec.set("start", "UNBOUNDED")
    spec.set("start_side", "PRECEDING")
    for key in order.expressions:
        if not isinstance(key, exp.Ordered):
            raise ValueError(f"cannot reverse the window order {order.sql('duckdb')}")
        # DuckDB puts NULLs last in both directions unless told: spell the reversal out
        key.set("desc", not key.args.get("desc"))
        key.set("nulls_first", not key.args.get("nulls_first"))


def session(master: str | None = None) -> SparkSession:
    """A Spark session on ``master`` (default ``local[*]``: every core of this machine).

    ``PROOFMIND_SPARK_PARTITIONS`` sets the shuffle partitions (default: Spark's 200, too many
    for one machine's data, so ``local[N]`` uses 2 × N, ``local[*]`` 2 × the cores)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ConfigError(
            "the Spark engine needs pyspark, which is not installed",
            hint="pip install 'proofmind[spark]' (PySpark 4.0; it also needs Java 17 or later)",
        ) from exc
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and Path(java_home, "bin", "java").exists()) and not shutil.which("java"):
        raise ConfigError(
            "the Spark engine needs Java 17 or later, and no `java` was found",
            hint="install a JDK or JRE 17+ (Debian/Ubuntu: apt install openjdk-17-jre-headless; "
            "macOS: brew install openjdk@17) or set JAVA_HOME",
        )
    # executors run the scoring UDF in this same interpreter (and its LightGBM)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    master = master or "local[*]"
    partitions = os.environ.get("PROOFMIND_SPARK_PARTITIONS") or _local_partitions(master)
    builder = (
        SparkSession.builder.master(master)
        .appName("proofmind")
        .config("spark.sql.ansi.enabled", "false")  # DuckDB-like: x / 0 is NULL, not an error
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")  # the CLI shows its own progress
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    )
    if partitions:
        builder = builder.config("spark.sql.shuffle.partitions", partitions)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start, or the master is unreachable
        raise ConfigError(
            f"cannot start Spark on {master}: {str(exc).strip().splitlines()[0]}",
            hint="check --master (local[*], spark://HOST:7077, yarn, k8s://…) and Java 17+",
        ) from exc
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _local_partitions(master: str) -> str | None:
    """Shuffle partitions for a ``local[N]`` master: two per worker thread (each task's share
    of the per-account rows stays small, and no worker waits on the slowest partition)."""
    if not master.startswith("local"):
        return None
    threads = master.removeprefix("local").strip("[]").split(",")[0]
    if not threads:  # "local": one thread
        return "2"
    workers = int(threads) if threads.isdigit() else os.cpu_count() or 1
    return str(2 * max(workers, 1))


def local_path(data: str) -> Path | None:
    """``data`` as a local path, or None when it is a URI of another file system (s3a://,
    hdfs://, gs://, abfss://…)."""
    parsed = urlparse(data)
    if parsed.scheme in ("", "file") or len(parsed.scheme) == 1:  # a Windows drive letter
        return Path(parsed.path if parsed.scheme == "file" else data)
    return None


def register_tables(spark: SparkSession, data: str) -> list[str]:
    """Temp views ``transactions`` and ``erc20_transfers`` over the canonical Parquet tables
    under ``data`` (a folder or a Hadoop-compatible URI); a missing table is an empty view.
    Returns the tables found, and fails when there is none."""
    from pyspark.errors import AnalysisException

    found = []
    base = data.rstrip("/")
    for table in TABLES:
        columns = table_columns(table)
        schema = ", ".join(f"{name} {_SPARK_TYPES.get(t, t)}" for name, t in columns)
        try:
            frame = spark.read.option("basePath", f"{base}/{table}").parquet(f"{base}/{table}")
            frame = frame.select(*[_exact(frame, name, t) for name, t in columns])
            found.append(table)
        except AnalysisException as exc:
            if "PATH_NOT_FOUND" not in str(exc) and "UNABLE_TO_INFER_SCHEMA" not in str(exc):
                raise InputError(f"cannot read {base}/{table}: {_first_line(exc)}") from exc
            frame = spark.createDataFrame([], schema)
        frame.createOrReplaceTempView(table)
    if not found:
        raise InputError(
            f"{data} holds no transactions or erc20_transfers tables (Parquet)",
            hint="point --data at the folder `proofmind ingest` wrote (or its copy on your "
            "cluster's file system)",
        )
    return found


def _exact(frame: DataFrame, name: str, kind: str) -> Any:
    """Column ``name`` of ``frame``; a wei column that Parquet holds as DOUBLE (tables written
    before wei became DECIMAL) becomes the exact integer the double is (as DuckDB casts it),
    not Spark's cast, which goes through the
    shortest decimal text of the double (1.7999727e20 → …70000000000000, where the double is
    …69999999991808). The double splits exactly into a high part (a multiple of 2^32) and a
    low part, each an exact BIGINT."""
    from pyspark.sql import functions as sf
    from pyspark.sql.types import DoubleType, FloatType

    column = frame[name]
    if not kind.startswith("DECIMAL") or not isinstance(
        frame.schema[name].dataType, DoubleType | FloatType
    ):
        return column
    value = column.cast("double")
    high = sf.floor(value / sf.lit(2.0**32))
    low = value - high * sf.lit(2.0**32)
    wei = high.cast("bigint").cast("decimal(38,0)") * sf.lit(2**32).cast(
        "decimal(38,0)"
    ) + low.cast("bigint").cast("decimal(38,0)")
    return wei.cast("decimal(38,0)").alias(name)


def set_targets(spark: SparkSession, addresses: list[str] | None) -> None:
    """The temp view ``targets(address)``: ``addresses``, or every address in the data."""
    if addresses is None:  # cached: the query joins it once per read of the per-account rows
        spark.sql(
            "SELECT DISTINCT address FROM ("
            " SELECT from_address AS address FROM transactions"
            " UNION ALL SELECT to_address FROM transactions"
            " UNION ALL SELECT from_address FROM erc20_transfers"
            " UNION ALL SELECT to_address FROM erc20_transfers) WHERE address IS NOT NULL"
        ).cache().createOrReplaceTempView("targets")
    else:
        spark.createDataFrame(
            [(a,) for a in dict.fromkeys(addresses)], "address STRING"
        ).createOrReplaceTempView("targets")


def address_features(spark: SparkSession, addresses: list[str] | None = None) -> DataFrame:
    """The features (same columns as DuckDB's) of ``addresses`` (lower-case; None: every
    address in the data) from the registered tables, with a ``has_data`` column: whether the
    address appears in a transaction or an ERC-20 transfer."""
    set_targets(spark, addresses)
    # the per-account rows (CTE t) are not cached: the four CTEs that read them each read a
    # few columns, and reading Parquet and joining again costs a fifth of building Spark's
    # in-memory cache of every column (measured at 2M transactions: 46 CPU seconds to cache,
    # 9 to compute all columns once)
    features = spark.sql(to_spark_sql(features_sql()))
    return features.withColumn(
        "has_data", features["n_tx"].isNotNull() | features["n_tok"].isNotNull()
    )


def score(features: DataFrame, model: lgb.Booster) -> DataFrame:
    """``address, status, score`` for every row of ``features``, in its order (the features of
    ``address_features`` come sorted by address): the model's probability where the address
    has data, status "no data" and no score where it has none."""
    from pyspark.sql import functions as sf

    names = list(model.feature_name())
    missing = [n for n in names if n not in features.columns]
    if missing:
        raise InputError(
            f"the model was trained on other features (missing: {', '.join(missing[:5])})",
            hint="retrain it with this version of proofmind",
        )
    text = model.model_to_string()

    def predict(batches: Iterable[Any]) -> Iterator[Any]:
        import lightgbm
        import numpy as np
        import pandas as pd

        booster = lightgbm.Booster(model_str=text)
        for batch in batches:
            has = batch["has_data"].to_numpy(dtype=bool)
            scores = pd.array([pd.NA] * len(batch), dtype="Float64")
            if has.any():
                x = batch.loc[has, names].astype("float64").to_numpy(na_value=np.nan)
                scores[has] = booster.predict(x)
            yield pd.DataFrame({"address": batch["address"].to_numpy(), "score": scores})

    # one pass over the features (no union of a scored and an unscored branch, which would
    # compute the features twice), and no sort: the features come sorted by address and
    # mapInPandas keeps the order of the rows
    scored = features.select("address", "has_data", *names).mapInPandas(
        predict, schema="address STRING, score DOUBLE"
    )
    return scored.select(
        "address",
        sf.when(sf.col("score").isNull(), sf.lit("no data"))
        .otherwise(sf.lit("scored"))
        .alias("status"),
        "score",
    )


def write_parquet(frame: DataFrame, out: str) -> None:
    """Write ``frame`` as a Parquet folder at ``out`` (replaced if it exists): Spark writes
    into a temporary folder and commits the files at the end, so a failed job leaves no
    half-written output."""
    try:
        frame.write.mode("overwrite").parquet(out)
    except Exception as exc:
        raise InputError(f"cannot write {out}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
