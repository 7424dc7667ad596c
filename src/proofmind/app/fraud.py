"""Fraud scores of addresses: the trained LightGBM model over the features of a folder that
`proofmind ingest` wrote (`proofmind fraud score`, and the HTTP API's /fraud/scores).

An address without a single transaction in the data has an all-empty feature vector, which
the model would score confidently: it gets the status "no data" and no score, an answer in
its own right.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proofmind.addresses import parse_address
from proofmind.errors import ConfigError, InputError

if TYPE_CHECKING:
    import lightgbm as lgb

SCORED, NO_DATA = "scored", "no data"
MAX_BATCH = 1000  # addresses per API request: features of each are one DuckDB pass


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


def load_model(path: Path) -> lgb.Booster:
    """The model at ``path``, loaded again only when the file changes."""
    try:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        stamp = (0, 0)  # load_model says what is wrong with the path
    return _model(path, stamp)


@functools.lru_cache(maxsize=4)
def _model(path: Path, _stamp: tuple[int, int]) -> lgb.Booster:
    from proofmind.intel.fraud import load_model as load

    return load(path)


def score_addresses(
    data: Path,
    model_path: Path,
    addresses: Sequence[str],
    *,
    explain_top: int = 0,
    first_n: int | None = None,
) -> list[FraudScore]:
    """A score (or "no data") for each of ``addresses`` (checked, lower-case), in order."""
    import numpy as np

    from proofmind.intel.etherscan import connect
    from proofmind.intel.fraud import address_features, explain, require_data, with_data

    model = load_model(model_path)
    require_data(data)
    con = connect(data)
    try:
        present = with_data(con, list(addresses))
        scores: dict[str, float] = {}
        reasons: dict[str, list[tuple[str, float]]] = {}
        if present:
            features = address_features(con, [a for a in addresses if a in present], first_n)
            if features.names != model.feature_name():
                raise InputError(
                    f"{model_path} was trained on other features",
                    hint="retrain it with this version of proofmind",
                )
            predicted = [float(p) for p in np.asarray(model.predict(features.matrix))]
            scores = dict(zip(features.addresses, predicted, strict=True))
            if explain_top:
                found = explain(model, features.matrix, features.names, explain_top)
                reasons = dict(zip(features.addresses, found, strict=True))
    finally:
        con.close()
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
    chosen_data = data or Path("chaindata")
    model_path = chosen_model if chosen_model.is_absolute() else project / chosen_model
    data_path = chosen_data if chosen_data.is_absolute() else project / chosen_data
    if not model_path.is_file():
        raise ConfigError(
            f"no fraud model at {model_path}",
            hint="train one with `proofmind fraud train` (or `--register`), or set [api] "
            "fraud_model (PROOFMIND_API_FRAUD_MODEL) to its file",
        )
    if not data_path.is_dir():
        raise ConfigError(
            f"no ingested data at {data_path}",
            hint="write it with `proofmind ingest`, or set [api] fraud_data "
            "(PROOFMIND_API_FRAUD_DATA) to the folder",
        )
    return model_path, data_path
