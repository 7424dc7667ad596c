"""Will a proposal pass? A forecast from what was known when it was created, evaluated only
on time-ordered splits, always next to its baselines.

Known at creation: the proposal's type, title (and body when the source has one), voting
duration, threshold, and history — the author's earlier proposals and their outcomes, and the
pass rate of the proposal's type (so far, and over the last 90 days), counting only proposals
whose voting had *ended* by then (an earlier proposal still being voted on has no outcome yet).
Nothing later leaks in: ``history_features`` is a pure function of the proposals created before
each one and the outcomes known at its creation, and a test recomputes it on truncated data.

The history is computed with window functions over one time line of events (a proposal's
creation, an outcome becoming known), so it scales linearly: 100,000 proposals take a second.

The base rate moves (Decentraland: 36% passed in 2021, 54% in 2023), so the model weighs recent
proposals more (an exponential decay with a one-year half-life), sees the recent pass rate of the
proposal's type as a feature, and is recalibrated on the latest part of its training data;
calibration is reported on the later split (Brier score, reliability table).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
from numpy.typing import NDArray

DAY = 86_400
HALF_LIFE_DAYS = 365.0
RECENT_DAYS = 90
PRIOR = 5.0  # pseudo-proposals at the enclosing rate, for the smoothed type rates
AUTHOR_PRIOR = 2.0  # pseudo-proposals at the type's recent rate, for the author's rate

ENDED_WITHOUT_OUTCOME = ("closed", "canceled", "cancelled", "deleted")
"""Statuses that end a proposal for good: one of them without an outcome (a closed Snapshot
choice between options, a canceled Governor proposal, a deleted one) is neither learnt from nor
forecast. Any other proposal without an outcome is forecast as open."""

# One time line per DAO: each proposal's creation (a query, at 2t + 1) and each outcome at the
# time it became known (2t, the end of voting, at least a second after creation). A running sum
# up to a query counts exactly the outcomes known by then; a range of 2 × 90 days before it, those
# that became known in the 90 days before.
HISTORY_SQL = f"""
WITH p AS (
    SELECT proposal_id, author, type, title, coalesce(body, '') AS body, created_at,
        voting_ends_at, threshold_vp, passed
    FROM proposals
    WHERE dao = $dao
        AND (passed IS NOT NULL OR lower(coalesce(status, '')) NOT IN {ENDED_WITHOUT_OUTCOME!r})
),
line AS (
    SELECT proposal_id, author, type, 2 * created_at + 1 AS k, 0 AS known, 0 AS won FROM p
    UNION ALL
    SELECT NULL, author, type, 2 * greatest(voting_ends_at, created_at + 1), 1, passed
    FROM p WHERE passed IS NOT NULL
),
running AS (
    SELECT proposal_id,
        sum(known) OVER w_all AS all_known, sum(won) OVER w_all AS all_passed,
        sum(known) OVER w_type AS type_all_known, sum(won) OVER w_type AS type_all_passed,
        sum(known) OVER w_recent AS type_known, sum(won) OVER w_recent AS type_passed,
        sum(known) OVER w_author AS author_known, sum(won) OVER w_author AS author_passed
    FROM line
    WINDOW w_all AS (ORDER BY k RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
        w_type AS (PARTITION BY type ORDER BY k
                   RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
        w_recent AS (PARTITION BY type ORDER BY k
                     RANGE BETWEEN {2 * RECENT_DAYS * DAY} PRECEDING AND CURRENT ROW),
        w_author AS (PARTITION BY author ORDER BY k
                     RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    QUALIFY proposal_id IS NOT NULL
),
authors AS (
    SELECT proposal_id, min(created_at) OVER w AS author_first
    FROM p
    WINDOW w AS (PARTITION BY author ORDER BY created_at
                 RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
rates AS (
    SELECT *, (all_passed + {PRIOR} * 0.5) / (all_known + {PRIOR}) AS overall FROM running
),
type_rates AS (
    SELECT *, (type_all_passed + {PRIOR} * overall) / (type_all_known + {PRIOR}) AS type_rate
    FROM rates
),
recent AS (
    SELECT *, (type_passed + {PRIOR} * type_rate) / (type_known + {PRIOR}) AS type_recent
    FROM type_rates
)
SELECT p.proposal_id, p.type, trim(p.title || ' ' || p.body) AS text, p.created_at,
    p.voting_ends_at, coalesce(CAST(p.passed AS DOUBLE), 'NaN'::DOUBLE) AS passed,
    (p.voting_ends_at - p.created_at) / {DAY}.0 AS duration_days,
    ln(1 + greatest(p.threshold_vp, 0)) AS log_threshold,
    ln(1 + CASE WHEN trim(p.title) = '' THEN 0
                ELSE len(regexp_split_to_array(trim(p.title), '\\s+')) END) AS log_title_words,
    ln(1 + r.author_known) AS log_author_known,
    ln(1 + coalesce((p.created_at - a.author_first) / {DAY}.0, 0)) AS log_author_days,
    logit((r.author_passed + {AUTHOR_PRIOR} * r.type_recent) / (r.author_known + {AUTHOR_PRIOR}))
        AS author_rate,
    logit(r.type_recent) AS type_recent_rate
FROM p JOIN recent r USING (proposal_id) JOIN authors a USING (proposal_id)
ORDER BY p.created_at, p.proposal_id
"""
LOGIT_MACRO = "CREATE OR REPLACE TEMP MACRO logit(x) AS ln(x / (1 - x))"

NUMERIC = [
    "duration_days",
    "log_threshold",
    "log_title_words",
    "log_author_known",
    "log_author_days",
    "author_rate",
    "type_recent_rate",
]


@dataclass
class Proposals:
    """The proposals of one DAO in creation order, with their creation-time features."""

    ids: list[str]
    types: list[str]
    texts: list[str]
    created: NDArray[np.int64]
    ends: NDArray[np.int64]  # when voting ends (the outcome is known from then on)
    passed: NDArray[np.float64]  # 1, 0, or NaN (no outcome yet)
    numeric: NDArray[np.float64]

    def take(self, rows: Sequence[int] | NDArray[np.int64]) -> Proposals:
        idx = np.asarray(rows, dtype=np.int64)
        return Proposals(
            [self.ids[i] for i in idx],
            [self.types[i] for i in idx],
            [self.texts[i] for i in idx],
            self.created[idx],
            self.ends[idx],
            self.passed[idx],
            self.numeric[idx],
        )


def daos(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT DISTINCT dao FROM proposals ORDER BY 1").fetchall()]


def history_features(con: duckdb.DuckDBPyConnection, dao: str) -> Proposals:
    """Every proposal of ``dao`` but those ended without an outcome (see
    `ENDED_WITHOUT_OUTCOME`), with the features known at its creation."""
    con.execute(LOGIT_MACRO)
    columns = con.execute(HISTORY_SQL, {"dao": dao}).fetchnumpy()
    return Proposals(
        [str(i) for i in columns["proposal_id"]],
        [str(t) for t in columns["type"]],
        [str(t) for t in columns["text"]],
        np.asarray(columns["created_at"], dtype=np.int64),
        np.asarray(columns["voting_ends_at"], dtype=np.int64),
        np.asarray(columns["passed"], dtype=np.float64),
        np.column_stack([np.asarray(columns[c], dtype=np.float64) for c in NUMERIC]).reshape(
            len(columns["proposal_id"]), len(NUMERIC)
        ),
    )


class OutcomeModel:
    """Logistic regression on the creation-time features, the type and the title's words
    (TF-IDF of words and word pairs, fitted on the training proposals only)."""

    def __init__(self, seed: int = 0) -> None:
        from sklearn.compose import ColumnTransformer
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        columns = ColumnTransformer(
            [
                ("numeric", StandardScaler(), list(range(len(NUMERIC)))),
                ("type", OneHotEncoder(handle_unknown="ignore"), [len(NUMERIC)]),
                (
                    "text",
                    TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                    len(NUMERIC) + 1,
                ),
            ]
        )
        self.pipeline = Pipeline(
            [("columns", columns), ("model", LogisticRegression(C=0.3, max_iter=2000))]
        )
        self.seed = seed
        self.platt = (1.0, 0.0)  # slope and intercept on the logit, fitted by ``fit``

    @staticmethod
    def _frame(data: Proposals) -> Any:
        import pandas as pd

        frame = pd.DataFrame(data.numeric, columns=list(range(len(NUMERIC))))
        frame[len(NUMERIC)] = data.types
        frame[len(NUMERIC) + 1] = data.texts
        return frame

    def fit(self, data: Proposals) -> OutcomeModel:
        """Fit on the proposals with an outcome. Calibration for the drifting base rate: the
        model is first fitted on the earlier 80% and a logistic (Platt) map of its logit is
        fitted on the latest 20% (outcomes known before their creation only), then the model
        is refitted on everything and keeps that map."""
        from sklearn.linear_model import LogisticRegression

        known = np.flatnonzero(~np.isnan(data.passed))
        split = int(len(known) * 0.8)
        if len(known) >= 50 and split < len(known):
            cut = data.created[known[split]]
            early = data.take([i for i in known[:split] if data.ends[i] <= cut])
            late = data.take(known[split:])
            if len(set(early.passed.tolist())) == 2 and len(set(late.passed.tolist())) == 2:
                self._fit(early)
                logit = _logit(self._raw(late))
                platt = LogisticRegression(C=1e6).fit(logit[:, None], late.passed.astype(int))
                self.platt = (float(platt.coef_[0][0]), float(platt.intercept_[0]))
        self._fit(data.take(known))
        return self

    def _fit(self, train: Proposals) -> None:
        age_days = (train.created.max() - train.created) / DAY
        weights = 0.5 ** (age_days / HALF_LIFE_DAYS)  # recent proposals count more
        self.pipeline.fit(
            self._frame(train), train.passed.astype(int), model__sample_weight=weights
        )

    def _raw(self, data: Proposals) -> NDArray[np.float64]:
        return np.asarray(self.pipeline.predict_proba(self._frame(data))[:, 1], dtype=np.float64)

    def predict(self, data: Proposals) -> NDArray[np.float64]:
        """Calibrated probabilities that each proposal passes."""
        slope, intercept = self.platt
        return np.asarray(1 / (1 + np.exp(-(slope * _logit(self._raw(data)) + intercept))))


def _logit(p: NDArray[np.float64]) -> NDArray[np.float64]:
    clipped = np.clip(p, 1e-6, 1 - 1e-6)
    return np.asarray(np.log(clipped / (1 - clipped)))


def type_only(train: Proposals, test: Proposals) -> NDArray[np.float64]:
    """The baseline: each type's pass rate in the training proposals (smoothed)."""
    known = ~np.isnan(train.passed)
    overall = float(np.mean(train.passed[known]))
    rates: dict[str, tuple[float, int]] = {}
    for t, y in zip(np.array(train.types)[known], train.passed[known], strict=True):
        s, n = rates.get(t, (0.0, 0))
        rates[t] = (s + y, n + 1)
    return np.array(
        [(rates.get(t, (0.0, 0))[0] + PRIOR * overall) / (rates.get(t, (0.0, 0))[1] + PRIOR)
         for t in test.types]
    )  # fmt: skip


@dataclass
class Evaluation:
    dao: str
    train: int
    test: int
    cut: int  # creation time of the first test proposal
    base_rate_train: float
    base_rate_test: float
    metrics: dict[str, dict[str, tuple[float, float, float]]]  # model → metric → (v, lo, hi)
    reliability: list[tuple[float, float, float, int]]  # bin lo, hi, observed, count


def evaluate(
    data: Proposals,
    dao: str,
    test_share: float = 0.3,
    seed: int = 0,
    refit_days: int | None = 90,
) -> Evaluation:
    """Train on the earlier proposals, test on the later ``test_share`` (by creation time;
    the training set is cut back so that every training outcome was known before the first
    test proposal was created). With ``refit_days``, also the model as it is used: refitted
    every ``refit_days`` on the outcomes known by then, each fit forecasting the proposals
    created in the next period (reported as its own row)."""
    known = np.flatnonzero(~np.isnan(data.passed))
    if len(known) < 20:
        raise ValueError(f"only {len(known)} proposals of {dao} have an outcome: too few")
    first_test = known[int(len(known) * (1 - test_share))]
    cut = int(data.created[first_test])
    test_rows = known[known >= first_test]
    train = data.take([i for i in known[known < first_test] if data.ends[i] <= cut])
    test = data.take(test_rows)
    y = test.passed.astype(int)
    majority = np.full(len(y), float(np.mean(train.passed)))
    scores = {
        "majority class": majority,
        "type only": type_only(train, test),
        "model": OutcomeModel(seed).fit(train).predict(test),
    }
    if refit_days:
        scores[f"model, refitted every {refit_days} days"] = _walk_forward(
            data, known, test_rows, refit_days, seed
        )
    metrics = _metrics(y, scores, seed)
    return Evaluation(
        dao,
        len(train.ids),
        len(test.ids),
        cut,
        float(np.mean(train.passed)),
        float(np.mean(y)),
        metrics,
        reliability(y, scores["model"]),
    )


def _walk_forward(
    data: Proposals,
    known: NDArray[np.int64],
    test_rows: NDArray[np.int64],
    days: int,
    seed: int,
) -> NDArray[np.float64]:
    """Forecasts of the test proposals by a model refitted at the start of each period on the
    outcomes known by then."""
    forecasts = np.full(len(test_rows), np.nan)
    start = int(data.created[test_rows[0]])
    while start <= int(data.created[test_rows[-1]]):
        inside = (data.created[test_rows] >= start) & (data.created[test_rows] < start + days * DAY)
        if inside.any():
            train = [i for i in known if data.ends[i] <= start and data.created[i] < start]
            model = OutcomeModel(seed).fit(data.take(train))
            forecasts[inside] = model.predict(data.take(test_rows[inside]))
        start += days * DAY
    return forecasts


def _metrics(
    y: NDArray[np.int64],
    scores: dict[str, NDArray[np.float64]],
    seed: int,
    rounds: int = 1000,
    pair: tuple[str, str] = ("model", "type only"),
) -> dict[str, dict[str, tuple[float, float, float]]]:
    """Each forecast's metrics with 95% bootstrap intervals, and the paired ROC-AUC gain of
    ``pair[0]`` over ``pair[1]`` (the same resampled proposals for both: the first beats the
    second when the interval is above 0). A resample is a vector of counts, so every metric is
    a weighted sum over the sorted scores: 1,000 resamples of 30,000 proposals take a second."""
    n = len(y)
    rng = np.random.default_rng(seed)
    draws = [np.ones((1, n))]  # the point estimate first
    for start in range(0, rounds, 100):
        batch = [
            np.bincount(rng.integers(0, n, n), minlength=n)
            for _ in range(start, min(start + 100, rounds))
        ]
        draws.append(np.array(batch, dtype=np.float64))
    values: dict[str, dict[str, list[NDArray[np.float64]]]] = {name: {} for name in scores}
    gains: list[NDArray[np.float64]] = []
    for weights in draws:
        for name, p in scores.items():
            for metric, v in _weighted_metrics(y, p, weights).items():
                values[name].setdefault(metric, []).append(v)
        auc = {name: values[name]["ROC-AUC"][-1] for name in pair}
        gains.append(auc[pair[0]] - auc[pair[1]])
    out: dict[str, dict[str, tuple[float, float, float]]] = {}
    for name, metrics in values.items():
        out[name] = {m: _interval(np.concatenate(v)) for m, v in metrics.items()}
    out[f"{pair[0]} − {pair[1]}"] = {"ROC-AUC": _interval(np.concatenate(gains))}
    return out


def _interval(v: NDArray[np.float64]) -> tuple[float, float, float]:
    """(point estimate, 2.5th and 97.5th percentile of the resamples) from [point, *resamples]."""
    rest = v[1:][~np.isnan(v[1:])]
    if not len(rest):
        return float(v[0]), float("nan"), float("nan")
    return float(v[0]), float(np.percentile(rest, 2.5)), float(np.percentile(rest, 97.5))


def _weighted_metrics(
    y: NDArray[np.int64], p: NDArray[np.float64], w: NDArray[np.float64]
) -> dict[str, NDArray[np.float64]]:
    """ROC-AUC, PR-AUC (average precision, as scikit-learn defines it), F1 and accuracy at 0.5,
    and the Brier score, for each row of case weights ``w`` (rounds × proposals)."""
    order = np.argsort(-p, kind="stable")
    ps, ys, ws = p[order], y[order].astype(np.float64), w[:, order]
    starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])  # groups of tied scores
    pos = np.add.reduceat(ws * ys, starts, axis=1)
    neg = np.add.reduceat(ws * (1 - ys), starts, axis=1)
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    cum_pos, cum_neg = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        below = n_neg[:, None] - cum_neg + 0.5 * neg  # negatives scored lower, ties half
        auc = (pos * below).sum(axis=1) / (n_pos * n_neg)
        precision = cum_pos / (cum_pos + cum_neg)
        ap = (pos * np.nan_to_num(precision)).sum(axis=1) / n_pos
        both = (n_pos > 0) & (n_neg > 0)
        auc, ap = np.where(both, auc, np.nan), np.where(both, ap, np.nan)
        predicted = (ps >= 0.5).astype(np.float64)
        tp = (ws * ys * predicted).sum(axis=1)
        f1 = 2 * tp / ((ws * predicted).sum(axis=1) + n_pos)
        f1 = np.nan_to_num(f1)
        total = ws.sum(axis=1)
        accuracy = (ws * (predicted == ys)).sum(axis=1) / total
        brier = (ws * (ps - ys) ** 2).sum(axis=1) / total
    return {"ROC-AUC": auc, "PR-AUC": ap, "F1": f1, "accuracy": accuracy, "Brier": brier}


def reliability(
    y: NDArray[np.int64], p: NDArray[np.float64], bins: int = 10
) -> list[tuple[float, float, float, int]]:
    """(bin low, mean forecast, observed pass rate, count) for each non-empty forecast bin."""
    rows = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = (p >= lo) & ((p < hi) if b < bins - 1 else (p <= hi))
        if inside.any():
            rows.append(
                (lo, float(np.mean(p[inside])), float(np.mean(y[inside])), int(inside.sum()))
            )
    return rows
