"""Forecasts committed before the vote ends, so that they can be checked afterwards.

`gov predict --record` writes the fitted model (pickled; its keccak256 is the model's content
hash) and registers it in the workspace's lineage ledger with a card (training-set hash,
evaluation metrics), then writes a forecast document — per open proposal its inputs hash (the
keccak256 of its creation-time fields, recomputable by anyone from the proposals table), the
forecast P(pass) and when voting ends — and records it as an inference of that model. With a
chain the record is anchored at once; the anchoring block's time shows it came before the
vote's end. ``check_forecast`` later recomputes the inputs hashes from the tables and scores
the forecasts against the outcomes.

The workspace's stores and the chain are passed in; the ledger is imported lazily.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import duckdb

from proofmind.crypto import keccak256
from proofmind.errors import InputError

if TYPE_CHECKING:
    from proofmind.chain.base import Chain
    from proofmind.store.stores import Stores

FORMAT = "proofmind-gov-forecast-v1"
# what a forecast may depend on: the proposal as it was when it was created
INPUT_FIELDS = (
    "dao",
    "proposal_id",
    "author",
    "type",
    "title",
    "body",
    "created_at",
    "voting_ends_at",
    "threshold_vp",
)


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _hash(value: Any) -> str:
    return "0x" + keccak256(_canonical(value)).hex()


def inputs_hashes(con: duckdb.DuckDBPyConnection, dao: str, ids: Sequence[str]) -> dict[str, str]:
    """keccak256 of each proposal's creation-time fields (canonical JSON)."""
    cursor = con.execute(
        f"SELECT {', '.join(INPUT_FIELDS)} FROM proposals WHERE dao = ? AND proposal_id IN "
        "(SELECT unnest(?))",
        [dao, list(ids)],
    )
    return {
        str(row[1]): _hash(dict(zip(INPUT_FIELDS, row, strict=True))) for row in cursor.fetchall()
    }


def training_set_hash(con: duckdb.DuckDBPyConnection, dao: str) -> str:
    """keccak256 of the (proposal, created, voting ends, outcome) of every proposal with an
    outcome: what the model was fitted on."""
    rows = con.execute(
        "SELECT proposal_id, created_at, voting_ends_at, passed FROM proposals "
        "WHERE dao = ? AND passed IS NOT NULL ORDER BY created_at, proposal_id",
        [dao],
    ).fetchall()
    return _hash([list(r) for r in rows])


@dataclass(frozen=True)
class RecordedForecast:
    document: Path
    model_record: Any  # LocalRecord
    record: Any  # LocalRecord of the forecast (an inference of the model)
    inputs_hash: str


def record_forecasts(
    workspace: Stores,
    con: duckdb.DuckDBPyConnection,
    dao: str,
    model: Any,
    forecasts: Sequence[tuple[str, float]],
    metrics: dict[str, Any],
    folder: Path,
) -> RecordedForecast:
    """Register ``model`` and the ``forecasts`` ((proposal_id, P(pass)) of open proposals) in
    the workspace's ledger (pending; anchor with :func:`anchor_forecast`)."""
    from proofmind.provenance.api import register_model
    from proofmind.provenance.ledger import Ledger
    from proofmind.provenance.records import Kind

    if not forecasts:
        raise InputError("no open proposal to forecast: nothing to record")
    folder.mkdir(parents=True, exist_ok=True)
    blob = pickle.dumps(model, protocol=5)
    model_hash = "0x" + keccak256(blob).hex()
    model_path = folder / f"model-{model_hash[2:14]}.pkl"
    model_path.write_bytes(blob)
    training = training_set_hash(con, dao)
    name = f"gov-forecast-{dao}"
    model_record = register_model(
        workspace,
        model_path,
        name=name,
        card={
            "intended_use": f"forecasting whether {dao}'s open proposals pass, at creation",
            "metrics": metrics,
            "training_data": [training],
            "description": "logistic regression on creation-time features "
            f"(scikit-learn {version('scikit-learn')}), Platt-recalibrated",
            "limitations": "the base rate drifts; see docs/governance.md",
        },
    )
    hashes = inputs_hashes(con, dao, [pid for pid, _ in forecasts])
    ends = dict(
        con.execute(
            "SELECT proposal_id, voting_ends_at FROM proposals WHERE dao = ? AND proposal_id IN "
            "(SELECT unnest(?))",
            [dao, [pid for pid, _ in forecasts]],
        ).fetchall()
    )
    items = [
        {
            "proposal_id": pid,
            "inputs_hash": hashes[pid],
            "p_pass": round(float(p), 6),
            "voting_ends_at": int(ends[pid]),
        }
        for pid, p in forecasts
    ]
    inputs = _hash([i["inputs_hash"] for i in items])
    document = {
        "format": FORMAT,
        "dao": dao,
        "model_keccak": model_hash,
        "training_set": training,
        "inputs_hash": inputs,
        "forecasts": items,
    }
    digest = _hash(document)
    path = folder / f"forecast-{digest[2:14]}.json"
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    record = Ledger(workspace).add(
        Kind.INFERENCE,
        name,
        digest,
        f"proofmind://inference/{quote(name)}?inputs={inputs}&model={model_hash}",
        parents=[model_record],
        path=path,
    )
    return RecordedForecast(path, model_record, record, inputs)


@dataclass(frozen=True)
class AnchoredForecast:
    block_number: int
    block_time: int
    before_vote_end: list[str]  # proposals whose voting ended after the anchoring block
    too_late: list[str]


def anchor_forecast(
    workspace: Stores, chain: Chain, recorded: RecordedForecast
) -> AnchoredForecast:
    """Anchor the forecast record (and its model) and say, per proposal, whether the anchoring
    block came before the end of its vote."""
    from proofmind.provenance.ledger import Ledger

    ledger = Ledger(workspace)
    ledger.anchor(chain, only=[recorded.record])
    record = ledger.get(recorded.record.key)
    if record.block_number is None:
        raise InputError(
            f"the forecast record {record.key} is not anchored yet ({record.state})",
            hint="run `proofmind provenance anchor` once the chain confirms it",
        )
    block_time = int(chain.w3.eth.get_block(record.block_number)["timestamp"])
    document = json.loads(recorded.document.read_text(encoding="utf-8"))
    early = [f["proposal_id"] for f in document["forecasts"] if f["voting_ends_at"] > block_time]
    late = [f["proposal_id"] for f in document["forecasts"] if f["voting_ends_at"] <= block_time]
    return AnchoredForecast(int(record.block_number), block_time, early, late)


@dataclass(frozen=True)
class ForecastCheck:
    unchanged: list[str]  # proposals whose inputs hash the tables reproduce
    changed: list[str]  # proposals whose creation-time fields differ now (or are gone)
    resolved: list[tuple[str, float, int]]  # (proposal, forecast, outcome)
    brier: float | None


def check_forecast(con: duckdb.DuckDBPyConnection, document: Path) -> ForecastCheck:
    """Recompute the inputs hashes of a recorded forecast from the tables and score the
    forecasts whose proposals have an outcome now."""
    try:
        doc = json.loads(document.read_text(encoding="utf-8"))
        if doc.get("format") != FORMAT:
            raise ValueError(f"format is {doc.get('format')!r}, not {FORMAT}")
        forecasts = doc["forecasts"]
        dao = doc["dao"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{document} is not a recorded governance forecast: {exc}") from exc
    ids = [f["proposal_id"] for f in forecasts]
    now = inputs_hashes(con, dao, ids)
    outcomes = dict(
        con.execute(
            "SELECT proposal_id, passed FROM proposals WHERE dao = ? AND proposal_id IN "
            "(SELECT unnest(?)) AND passed IS NOT NULL",
            [dao, ids],
        ).fetchall()
    )
    unchanged = [
        f["proposal_id"] for f in forecasts if now.get(f["proposal_id"]) == f["inputs_hash"]
    ]
    changed = [pid for pid in ids if pid not in unchanged]
    resolved = [
        (f["proposal_id"], float(f["p_pass"]), int(outcomes[f["proposal_id"]]))
        for f in forecasts
        if f["proposal_id"] in outcomes
    ]
    brier = sum((p - y) ** 2 for _, p, y in resolved) / len(resolved) if resolved else None
    return ForecastCheck(unchanged, changed, resolved, brier)
