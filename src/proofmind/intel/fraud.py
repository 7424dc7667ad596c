"""Fraud / phishing account classifier: era-invariant address features → LightGBM.

Evaluation is address-disjoint stratified k-fold cross-validation (each address is one row, in
exactly one test fold), reporting precision, recall, F1 and PR-AUC on the illicit class with
bootstrap 95% confidence intervals over the out-of-fold predictions. Explanations are
LightGBM's exact per-feature contributions (TreeSHAP) to an address's log-odds.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import lightgbm as lgb
import numpy as np
from numpy.typing import NDArray

from proofmind.errors import InputError

PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.03,
    "num_leaves": 31,
    "min_data_in_leaf": 10,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "feature_fraction": 0.8,
    "verbosity": -1,
    # the same bytes on every run and machine: a fixed histogram layout (LightGBM otherwise
    # picks row- or column-wise by timing a trial), deterministic reductions, fixed threads
    "num_threads": 2,
    "deterministic": True,
    "force_col_wise": True,
}
ROUNDS = 400
FOLDS = 5
SEED = 0
TRAINER = "fraud-lightgbm"  # how a registered run names this trainer, for `verify --reproduce`
NO_HISTORY = "left out"
"""What training and evaluation do with a labelled address that has no transaction or transfer
in the data (every feature empty): leave it out. `fraud score` does not score such an address
(status "no data"), so a model need not learn it, and an evaluation that counted it would
praise the model for rows it never meets: eth_fraud's 126 labelled addresses with no history
are all illicit, the easiest 13% of its illicit class. Runs logged before this rule (no
``no_history`` parameter) kept them, and are trained again that way."""


def features_sql(first_n: int | None = None) -> str:
    """The address features' SQL; with ``first_n``, computed on each account's first N
    transactions only (and its token transfers up to the N-th): early warning, no look-ahead."""
    sql = resources.files("proofmind.intel").joinpath("address_features.sql").read_text()
    if first_n is None:
        return sql
    if not isinstance(first_n, int) or first_n < 1:
        raise InputError(f"first_n must be a whole number ≥ 1, got {first_n!r}")
    sql = sql.replace(
        "FROM mine -- @first_n",
        "FROM mine QUALIFY row_number() OVER "
        f"(PARTITION BY account ORDER BY timestamp, tx_index, hash) <= {first_n}",
    )
    return sql.replace(
        ") -- @tokens_until_first_n",
        ") AS e LEFT JOIN (SELECT account AS cut_account, CASE WHEN count(*) >= "
        f"{first_n} THEN max(ts) END AS cutoff FROM t GROUP BY account) AS c "
        "ON c.cut_account = e.account WHERE c.cutoff IS NULL OR e.timestamp <= c.cutoff",
    )


@dataclass
class Features:
    addresses: list[str]
    names: list[str]
    matrix: NDArray[np.float64]


def address_features(
    con: duckdb.DuckDBPyConnection, addresses: list[str], first_n: int | None = None
) -> Features:
    """The feature matrix of ``addresses`` (lower-cased) from the canonical tables in ``con``
    (with ``first_n``: from each account's first N transactions only)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    wanted = [a.lower() for a in addresses]
    _address_table(con, "targets", wanted)
    table = con.execute(features_sql(first_n)).to_arrow_table()
    names = table.column_names[1:]
    matrix = np.empty((table.num_rows, len(names)))
    for j, name in enumerate(names):
        # through Arrow, not Python objects: integers and decimals are cast to float64
        # (exact for every value these features take), NULL becomes NaN
        column = pc.cast(table.column(name), pa.float64())
        matrix[:, j] = column.to_numpy(zero_copy_only=False)
    found = table.column(0).to_pylist()
    return Features(found, names, matrix)


BATCH_ROWS = 8_000_000
"""Transaction and transfer rows per batch of `feature_batches`: DuckDB's memory grows with the
rows of the accounts featured at once (about 0.8 KB per row in one query); with this, scoring
50M transactions peaked at 8.3 GB for the whole process (docs/benchmarks.md)."""


def address_rows(con: duckdb.DuckDBPyConnection, addresses: list[str] | None) -> dict[str, int]:
    """Rows (transactions and ERC-20 transfers, sent or received) of each address of
    ``addresses`` (lower-cased) that has any, or of every address in the data (None), in
    address order."""
    where = ""
    if addresses is not None:
        _address_table(con, "wanted", [a.lower() for a in addresses])
        where = "WHERE a IN (SELECT address FROM wanted)"
    rows = con.execute(
        "SELECT a, count(*) FROM (SELECT from_address AS a FROM transactions "
        "UNION ALL SELECT to_address FROM transactions "
        "WHERE to_address IS DISTINCT FROM from_address "
        "UNION ALL SELECT from_address FROM erc20_transfers "
        "UNION ALL SELECT to_address FROM erc20_transfers "
        "WHERE to_address IS DISTINCT FROM from_address) "
        f"{where} GROUP BY a HAVING a IS NOT NULL ORDER BY a"
    ).fetchall()
    return dict(rows)


def feature_batches(
    con: duckdb.DuckDBPyConnection, rows: Mapping[str, int], batch_rows: int | None = None
) -> Iterator[Features]:
    """`address_features` of the addresses of ``rows`` (address → its rows, as `address_rows`
    gives), in their order, in consecutive batches of at most ``batch_rows`` rows (an address
    with more has a batch of its own): the features are the same as in one query (each
    account's depend on its own rows only) and memory is bounded by the batch, not the data.
    Default: `BATCH_ROWS`."""
    limit = BATCH_ROWS if batch_rows is None else batch_rows
    batch: list[str] = []
    size = 0
    for address, n in rows.items():
        if batch and size + n > limit:
            yield address_features(con, batch)
            batch, size = [], 0
        batch.append(address)
        size += n
    if batch:
        yield address_features(con, batch)


def _address_table(con: duckdb.DuckDBPyConnection, name: str, addresses: list[str]) -> None:
    """The temporary table ``name`` (address VARCHAR) holding ``addresses`` in order (from an
    Arrow column: one statement, where row-by-row inserts take seconds for thousands)."""
    import pyarrow as pa

    rows = pa.table({"address": pa.array(addresses, pa.string())})
    con.register("_addresses_in", rows)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT address FROM _addresses_in")
    finally:
        con.unregister("_addresses_in")


def read_labels(path: Path) -> dict[str, int]:
    """``address,flag`` rows (flag 1 = illicit; the header in any case, as spreadsheets write
    it). Each address is checked as everywhere else; an address labelled twice must carry the
    same flag both times."""
    from proofmind.addresses import parse_address

    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            names = {(n or "").strip().lower(): n for n in reader.fieldnames or []}
            if not {"address", "flag"} <= set(names):
                raise InputError(
                    f"{path} needs columns address and flag",
                    hint=f"its header is {','.join(reader.fieldnames or []) or 'empty'}",
                )
            labels: dict[str, int] = {}
            lines: dict[str, int] = {}
            for n, row in enumerate(reader, start=2):
                flag = (row[names["flag"]] or "").strip()
                if flag not in ("0", "1"):
                    raise InputError(f"{path}, line {n}: flag must be 0 or 1, got {flag!r}")
                address = parse_address(row[names["address"]] or "", f"{path}, line {n}:")
                address = address.lower()
                if labels.get(address, int(flag)) != int(flag):
                    raise InputError(
                        f"{path}, line {n}: {address} is labelled {flag} here and "
                        f"{labels[address]} on line {lines[address]}",
                        hint="give each address one label",
                    )
                labels[address] = int(flag)
                lines.setdefault(address, n)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read {path}: {exc}", hint="give a CSV of address,flag") from exc
    if len(set(labels.values())) < 2:
        raise InputError(f"{path} must hold both classes (flag 0 and 1)")
    return labels


@dataclass(frozen=True)
class Metric:
    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value:.3f} (95% CI {self.low:.3f}–{self.high:.3f})"


@dataclass
class Evaluation:
    folds: int
    addresses: int
    illicit: int
    metrics: dict[str, Metric] = field(default_factory=dict)
    threshold: float = 0.5
    scores: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))


def _metrics(y: NDArray[np.int64], p: NDArray[np.float64], threshold: float) -> dict[str, float]:
    predicted = p >= threshold
    tp = float(np.sum(predicted & (y == 1)))
    precision = tp / max(float(predicted.sum()), 1.0)
    recall = tp / max(float((y == 1).sum()), 1.0)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return {"precision": precision, "recall": recall, "f1": f1, "pr_auc": average_precision(y, p)}


def average_precision(y: NDArray[np.int64], p: NDArray[np.float64]) -> float:
    """Area under the precision-recall curve, as step-wise average precision."""
    order = np.argsort(-p, kind="stable")
    hits = (y[order] == 1).astype(np.float64)
    if hits.sum() == 0:
        return 0.0
    precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision_at * hits).sum() / hits.sum())


def stratified_folds(y: NDArray[np.int64], folds: int, seed: int) -> NDArray[np.int64]:
    """Fold number of every row, classes spread evenly over folds."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=np.int64)
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        fold[rows] = np.arange(len(rows)) % folds
    return fold


def train(
    x: NDArray[np.float64],
    y: NDArray[np.int64],
    names: list[str],
    seed: int = SEED,
    params: Mapping[str, Any] = PARAMS,
    rounds: int = ROUNDS,
) -> lgb.Booster:
    data = lgb.Dataset(x, label=y, feature_name=names, free_raw_data=False)
    return lgb.train({**params, "seed": seed}, data, num_boost_round=rounds)


def evaluate(
    features: Features,
    labels: dict[str, int],
    *,
    folds: int = FOLDS,
    seed: int = SEED,
    boot: int = 1000,
    params: Mapping[str, Any] = PARAMS,
    rounds: int = ROUNDS,
    no_history: str = NO_HISTORY,
) -> Evaluation:
    """Address-disjoint ``folds``-fold cross-validation on the labelled addresses that have a
    history in the data (see `NO_HISTORY`)."""
    x, y = labelled(features, labels, no_history=no_history)
    if len(y) < folds * 2:
        raise InputError(f"only {len(y)} labelled addresses have features; need more")
    fold = stratified_folds(y, folds, seed)
    scores = np.zeros(len(y))
    for k in range(folds):
        model = train(x[fold != k], y[fold != k], features.names, seed, params, rounds)
        scores[fold == k] = model.predict(x[fold == k])
    point = _metrics(y, scores, 0.5)
    rng = np.random.default_rng(seed)
    samples = {name: [] for name in point}  # type: dict[str, list[float]]
    for _ in range(boot):
        pick = rng.integers(0, len(y), len(y))
        for name, value in _metrics(y[pick], scores[pick], 0.5).items():
            samples[name].append(value)
    report = Evaluation(folds, len(y), int(y.sum()), scores=scores)
    for name, value in point.items():
        low, high = np.percentile(samples[name], [2.5, 97.5])
        report.metrics[name] = Metric(value, float(low), float(high))
    return report


def explain(
    model: lgb.Booster, x: NDArray[np.float64], names: list[str], top: int = 5
) -> list[list[tuple[str, float]]]:
    """The ``top`` feature contributions (to the log-odds) of each row, largest first."""
    contributions = np.asarray(model.predict(x, pred_contrib=True))[:, :-1]  # last: the bias
    out = []
    for row in contributions:
        order = np.argsort(-np.abs(row))[:top]
        out.append([(names[i], float(row[i])) for i in order])
    return out


def load_model(path: Path) -> lgb.Booster:
    """The LightGBM text model at ``path`` (as `fraud train` writes it)."""
    return model_from_bytes(read_model(path), path)


def read_model(path: Path) -> bytes:
    """The bytes of the model file ``path``: one read, so what is hashed is what is loaded."""
    if not path.is_file():
        raise InputError(f"no model at {path}", hint="train one with `proofmind fraud train`")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read model {path}: {exc}") from exc


def model_from_bytes(data: bytes, path: Path) -> lgb.Booster:
    """The LightGBM text model held in ``data`` (read from ``path``, named in errors)."""
    if data[:64].split(b"\n", 1)[0].strip() != b"tree":  # LightGBM prints a "[Fatal]" line
        raise InputError(
            f"{path} is not a LightGBM text model",
            hint="give a model written by `proofmind fraud train`",
        )
    try:
        return lgb.Booster(model_str=data.decode("utf-8"))
    except (lgb.basic.LightGBMError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not a readable LightGBM model: {exc}") from exc


def require_data(data: Path) -> None:
    """Fail unless ``data`` is a folder `proofmind ingest` wrote (with transactions or ERC-20
    transfers): features of a missing folder are all empty, and a model would score them."""
    if not data.is_dir():
        raise InputError(
            f"data folder {data} does not exist",
            hint="write it with `proofmind ingest etherscan FILES -o DIR` (or `ingest rpc`) "
            "and pass --data DIR",
        )
    if not data_tables(data):
        raise InputError(
            f"data folder {data} holds no transactions or erc20_transfers tables (Parquet)",
            hint="point --data at the folder `proofmind ingest` wrote",
        )


def with_data(con: duckdb.DuckDBPyConnection, addresses: list[str]) -> set[str]:
    """The addresses (lower-cased) that appear in a transaction or an ERC-20 transfer."""
    return set(address_rows(con, addresses))


def check_labels(
    con: duckdb.DuckDBPyConnection, labels: dict[str, int], labels_path: Path, data: Path
) -> int:
    """How many labelled addresses appear in the data; an error when too few to learn from."""
    present = with_data(con, list(labels))
    if not present:
        raise InputError(
            f"none of the {len(labels)} addresses in {labels_path} appears in {data} "
            "(0 labels matched)",
            hint="the labels and the data must be of the same accounts: check both paths",
        )
    classes = {labels[a] for a in present}
    if len(classes) < 2:
        raise InputError(
            f"only {len(present)} of {len(labels)} labelled addresses appear in {data}, all "
            f"with flag {classes.pop()}: a classifier needs both classes",
            hint="ingest the transactions of the other class's addresses too",
        )
    return len(present)


def data_tables(data: Path) -> list[Path]:
    """The canonical table folders under ``data`` that hold Parquet files."""
    return [
        data / t
        for t in ("transactions", "erc20_transfers")
        if any((data / t).glob("**/*.parquet"))
    ]


def labelled(
    features: Features, labels: dict[str, int], *, no_history: str = NO_HISTORY
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """The feature rows and labels of the labelled addresses that have a history in the data
    (with ``no_history="kept"``, of every labelled address)."""
    empty = np.isnan(features.matrix).all(axis=1) if no_history == NO_HISTORY else None
    rows = [
        i
        for i, a in enumerate(features.addresses)
        if a in labels and (empty is None or not empty[i])
    ]
    y = np.array([labels[features.addresses[i]] for i in rows], dtype=np.int64)
    return features.matrix[rows], y


def train_model(
    features: Features,
    labels: dict[str, int],
    output: Path,
    *,
    seed: int = SEED,
    params: Mapping[str, Any] = PARAMS,
    rounds: int = ROUNDS,
    no_history: str = NO_HISTORY,
) -> tuple[int, int]:
    """Train on every labelled address with a history in the data (see `NO_HISTORY`) and save
    a LightGBM text model; (rows, illicit)."""
    x, y = labelled(features, labels, no_history=no_history)
    train(x, y, features.names, seed, params, rounds).save_model(str(output))
    return len(y), int(y.sum())


def run_params(
    data: Path, labels_path: Path, output: Path, mlp_output: Path | None
) -> dict[str, Any]:
    """What a registered run logs: the LightGBM parameters as they are, plus how to train
    again — this trainer, its inputs, its outputs' names, seed and folds, library versions."""
    from importlib.metadata import version

    return {
        **PARAMS,
        "rounds": ROUNDS,
        "seed": SEED,
        "folds": FOLDS,
        "no_history": NO_HISTORY,
        "trainer": TRAINER,
        "inputs": {"data": str(data.resolve()), "labels": str(labels_path.resolve())},
        "outputs": {"model": output.name, "mlp": mlp_output.name if mlp_output else None},
        "libraries": {name: version(name) for name in ("duckdb", "lightgbm", "numpy")},
    }


_RUN_KEYS = {
    "rounds",
    "seed",
    "folds",
    "no_history",
    "trainer",
    "inputs",
    "outputs",
    "libraries",
    "features",
}


@dataclass
class Fitted:
    report: Evaluation
    rows: int
    illicit: int
    written: list[Path]  # the model first
    names: list[str]  # of the features


def fit_params(params: Mapping[str, Any], folder: Path, mlp_output: Path | None = None) -> Fitted:
    """Evaluate and train as ``params`` (a run's logged parameters) say, writing the outputs
    into ``folder`` (the MLP at ``mlp_output`` when given, else in ``folder`` too when the
    parameters name one)."""
    from proofmind.intel.etherscan import connect
    from proofmind.intel.fraud_onnx import write_mlp

    inputs, outputs = params["inputs"], params["outputs"]
    lightgbm = {k: v for k, v in params.items() if k not in _RUN_KEYS}
    seed, rounds = int(params["seed"]), int(params["rounds"])
    labels = read_labels(Path(inputs["labels"]))
    features = address_features(connect(Path(inputs["data"])), list(labels))
    if "features" in params and params["features"] != features.names:
        raise InputError(
            "this code computes other features than the run logged: "
            + _list_change(params["features"], features.names),
            hint="check out the code version the run recorded",
        )
    no_history = str(params.get("no_history", "kept"))  # older runs kept them
    fit: dict[str, Any] = {
        "seed": seed,
        "params": lightgbm,
        "rounds": rounds,
        "no_history": no_history,
    }
    report = evaluate(features, labels, folds=int(params["folds"]), **fit)
    output = folder / outputs["model"]
    rows, illicit = train_model(features, labels, output, **fit)
    written = [output]
    if outputs.get("mlp"):
        mlp = mlp_output or folder / outputs["mlp"]
        rows_mlp = labelled(features, labels, no_history=no_history)
        written += [mlp, write_mlp(*rows_mlp, mlp, seed=seed)]
    return Fitted(report, rows, illicit, written, features.names)


def _list_change(old: list[str], new: list[str]) -> str:
    added, removed = sorted(set(new) - set(old)), sorted(set(old) - set(new))
    parts = [f"added {', '.join(added)}"] if added else []
    parts += [f"removed {', '.join(removed)}"] if removed else []
    return "; ".join(parts) or "the same names in another order"


def retrain(params: Mapping[str, Any], folder: Path) -> tuple[list[Path], dict[str, float]]:
    """Train again from a registered run's logged parameters, into ``folder``: the files
    written (named as the run named them) and the cross-validated metrics."""
    missing = {"inputs", "outputs", "seed", "rounds", "folds"} - set(params)
    if missing:
        raise InputError(
            f"the run did not log {', '.join(sorted(missing))}, which training again needs",
            hint="it was logged by an older proofmind: train and register it again",
        )
    fitted = fit_params(params, folder)
    return fitted.written, {k: m.value for k, m in fitted.report.metrics.items()}
