"""Ranking and false-positive metrics for the sybil model, and their confidence intervals.

Sybils come in groups, so neither the errors nor the addresses are independent: intervals are
percentiles of a *cluster bootstrap* (whole groups are resampled with replacement, as grouped
cross-validation holds whole groups out). Each metric is computed on weights — how often each
row was drawn — so one sort of the scores serves every bootstrap sample.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from proofmind.errors import InputError

Floats = NDArray[np.float64]


class Ranking:
    """The scores of one predictor, sorted once, for weighted metrics of any resample."""

    def __init__(self, y: NDArray[np.int64], score: Floats) -> None:
        values, self._block = np.unique(-np.asarray(score, dtype=np.float64), return_inverse=True)
        self._blocks = len(values)  # blocks of tied scores, highest score first
        self._positive = np.asarray(y) == 1

    def _counts(self, weights: Floats) -> tuple[Floats, Floats]:
        """Weighted positives and negatives per block of tied scores, highest first."""
        pos = np.bincount(self._block, weights=weights * self._positive, minlength=self._blocks)
        neg = np.bincount(self._block, weights=weights * ~self._positive, minlength=self._blocks)
        return pos.astype(np.float64), neg.astype(np.float64)

    def roc_auc(self, weights: Floats) -> float:
        pos, neg = self._counts(weights)
        total_pos, total_neg = pos.sum(), neg.sum()
        if total_pos == 0 or total_neg == 0:
            return float("nan")
        below = total_neg - np.cumsum(neg)  # negatives scoring lower than the block
        return float((pos * (below + 0.5 * neg)).sum() / (total_pos * total_neg))

    def average_precision(self, weights: Floats) -> float:
        pos, neg = self._counts(weights)
        tp, fp = np.cumsum(pos), np.cumsum(neg)
        if tp[-1] == 0:
            return float("nan")
        return float((pos * tp / np.maximum(tp + fp, 1e-300)).sum() / tp[-1])

    def precision_at_recall(self, weights: Floats, recall: float) -> float:
        """The best precision among thresholds whose recall is at least ``recall``."""
        pos, neg = self._counts(weights)
        tp, fp = np.cumsum(pos), np.cumsum(neg)
        if tp[-1] == 0:
            return float("nan")
        reached = tp / tp[-1] >= recall - 1e-12
        return float((tp / np.maximum(tp + fp, 1e-300))[reached].max())

    def recall_at_fpr(self, weights: Floats, fpr: float) -> float:
        """The best recall among thresholds that flag at most ``fpr`` of the negatives."""
        pos, neg = self._counts(weights)
        tp, fp = np.cumsum(pos), np.cumsum(neg)
        if tp[-1] == 0 or fp[-1] == 0:
            return float("nan")
        allowed = fp / fp[-1] <= fpr + 1e-12
        return float((tp / tp[-1])[allowed].max()) if allowed.any() else 0.0


def rates(y: NDArray[np.int64], flagged: NDArray[np.bool_], weights: Floats) -> dict[str, float]:
    """False-positive rate, recall and precision of a yes/no flag."""
    positive = np.asarray(y) == 1
    flag = np.asarray(flagged, dtype=bool)
    tp = float((weights * (flag & positive)).sum())
    fp = float((weights * (flag & ~positive)).sum())
    p, n = float((weights * positive).sum()), float((weights * ~positive).sum())
    return {
        "fpr": fp / n if n else float("nan"),
        "recall": tp / p if p else float("nan"),
        "precision": tp / (tp + fp) if tp + fp else float("nan"),
    }


def bootstrap(
    groups: NDArray[np.int64],
    metrics: Callable[[Floats], dict[str, float]],
    *,
    samples: int = 1000,
    seed: int = 0,
) -> dict[str, tuple[float, float, float]]:
    """Each metric on the data as it is, with the 2.5 and 97.5 percentiles of ``samples``
    cluster-bootstrap resamples of ``groups``: name → (value, low, high)."""
    _, code = np.unique(groups, return_inverse=True)
    code = code.reshape(-1)
    count = int(code.max()) + 1 if len(code) else 0
    point = metrics(np.ones(len(code)))
    drawn: dict[str, list[float]] = {name: [] for name in point}
    rng = np.random.default_rng(seed)
    for _ in range(samples):
        weights = np.bincount(rng.integers(0, count, count), minlength=count)[code]
        for name, value in metrics(weights.astype(np.float64)).items():
            drawn[name].append(value)
    out = {}
    for name, value in point.items():
        values = np.asarray(drawn[name])
        values = values[np.isfinite(values)]
        low, high = np.percentile(values, [2.5, 97.5]) if len(values) else (np.nan, np.nan)
        out[name] = (float(value), float(low), float(high))
    return out


def fpr_threshold(y: NDArray[np.int64], score: Floats, max_fpr: float) -> float:
    """The lowest score threshold at which at most ``max_fpr`` of the negatives score at or
    above it (scores ≥ threshold are flagged)."""
    negatives = np.sort(score[y == 0])[::-1]
    allowed = int(np.floor(max_fpr * len(negatives)))
    if allowed >= len(negatives):
        return float(negatives.min()) if len(negatives) else 0.5
    above = float(negatives[allowed])  # the highest negative that must stay unflagged
    return float(np.nextafter(above, np.inf))


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson 95% interval of a proportion k / n (independent trials)."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def roc_auc(y: NDArray[np.int64], score: Floats) -> float:
    """Area under the ROC curve by the rank-sum formula; tied scores share their mean rank."""
    positives = np.asarray(y) == 1
    if positives.all() or not positives.any():
        raise InputError("ROC-AUC needs both classes among the labelled addresses")
    return Ranking(y, score).roc_auc(np.ones(len(positives)))


def precision_at_recall(y: NDArray[np.int64], score: Floats, recall: float) -> float:
    """The best precision among thresholds whose recall is at least ``recall``."""
    value = Ranking(y, score).precision_at_recall(np.ones(len(y)), recall)
    return 0.0 if np.isnan(value) else value


def recall_at_fpr(y: NDArray[np.int64], score: Floats, fpr: float) -> float:
    """The best recall at a threshold whose false-positive rate among negatives is ≤ ``fpr``."""
    return Ranking(y, score).recall_at_fpr(np.ones(len(y)), fpr)
