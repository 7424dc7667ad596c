"""Data valuation: exact KNN-Shapley (Jia et al., VLDB 2019), vectorised with numpy.

For a K-nearest-neighbour classifier the Shapley value of every training point, for one test
point, follows from one sort of the training points by distance (the recursion of Theorem 1):

    s[α_N] = 1[y_{α_N} = y] / N
    s[α_i] = s[α_{i+1}] + (1[y_{α_i} = y] − 1[y_{α_{i+1}} = y]) / max(K, i)

where α_1 … α_N are the training points from nearest to farthest. The recursion is a reversed
cumulative sum, so a batch of test points is one distance matrix, one argsort and one cumsum:
O(N log N) per test point with no Python loop over N. The value of a training point is the
mean over the test points; a contributor's value is the sum over their rows. Negative values
(rows that make the classifier worse) are kept, not clipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from proofmind.errors import InputError

METHOD = "knn-shapley-jia2019"


def _check(name: str, x: NDArray[np.float64]) -> None:
    if not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x))[0]
        raise InputError(
            f"{name} holds a NaN or infinite value (row {bad[0]}"
            + (f", column {bad[1]})" if len(bad) > 1 else ")"),
            hint="impute or drop missing values before valuing the data",
        )


def _as_features(name: str, x: object) -> NDArray[np.float64]:
    try:
        array = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numeric: {exc}") from exc
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] == 0:
        raise InputError(f"{name} must be a non-empty 2-d array, got shape {array.shape}")
    _check(name, array)
    return array


def knn_shapley(
    x_train: object,
    y_train: object,
    x_test: object,
    y_test: object,
    k: int = 5,
    *,
    batch_bytes: int = 1 << 27,
    progress: Callable[[int], None] | None = None,
    engine: str = "local",
    master: str | None = None,
) -> NDArray[np.float64]:
    """Exact KNN-Shapley value of every training point (Euclidean distance, ``k`` neighbours).

    Equal to pyDVL's ``KNNShapleyValuation`` (tested to 1e-8). Memory is bounded by
    ``batch_bytes`` per batch of test points, whatever the number of training points.
    ``engine="ray"`` runs the batches as Ray tasks (on the cluster at ``master``, or a local
    one): the training set goes to the object store once, and the batch sums are added in batch
    order, as here, so the values are the same."""
    xt, xq = _as_features("x_train", x_train), _as_features("x_test", x_test)
    yt, yq = np.asarray(y_train), np.asarray(y_test)
    n, m = xt.shape[0], xq.shape[0]
    if yt.shape != (n,) or yq.shape != (m,):
        raise InputError(
            f"labels must be 1-d with one per row: x_train {xt.shape}, y_train {yt.shape}, "
            f"x_test {xq.shape}, y_test {yq.shape}"
        )
    if xt.shape[1] != xq.shape[1]:
        raise InputError(f"x_train has {xt.shape[1]} features, x_test {xq.shape[1]}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InputError(f"k must be a positive int, got {k!r}")
    if engine not in ("local", "ray"):
        raise InputError(f"unknown engine {engine!r}", hint="use local or ray")
    batch = max(1, min(m, batch_bytes // (8 * 5 * n)))
    starts = range(0, m, batch)
    values = np.zeros(n)
    if engine == "ray":
        from proofmind.provenance.chunked import ray_init

        ray = ray_init(master)
        task = ray.remote(max_retries=5)(_batch_values)
        train = ray.put((xt, yt, k))  # once to the object store, not once a task
        refs = [task.remote(train, xq[a : a + batch], yq[a : a + batch]) for a in starts]
        for ref, a in zip(refs, starts, strict=True):
            values += ray.get(ref)
            if progress is not None:
                progress(min(batch, m - a))
        return values / m
    for a in starts:
        values += _batch_values((xt, yt, k), xq[a : a + batch], yq[a : a + batch])
        if progress is not None:
            progress(min(batch, m - a))
    return values / m


def _batch_values(
    train: tuple[NDArray[np.float64], NDArray[Any], int],
    q: NDArray[np.float64],
    labels: NDArray[Any],
) -> NDArray[np.float64]:
    """The sum over the test points ``q`` of every training point's KNN-Shapley value."""
    xt, yt, k = train
    n = xt.shape[0]
    # 1 / max(K, i) for the 1-based positions i = 1 .. N - 1
    step = 1.0 / np.maximum(k, np.arange(1, n, dtype=np.float64))
    sq_train = np.einsum("ij,ij->i", xt, xt)
    # |x - q|² = |x|² - 2 x·q + |q|²; the last term is the same for every x, so the order
    # of |x|² - 2 x·q (one BLAS product) is the order of the distances
    order = np.argsort(sq_train[None, :] - 2.0 * (q @ xt.T), axis=1)
    match = (yt[order] == labels[:, None]).astype(np.float64)
    s = np.empty_like(match)
    s[:, -1] = match[:, -1] / n
    if n > 1:
        diff = (match[:, :-1] - match[:, 1:]) * step
        s[:, :-1] = s[:, -1:] + np.cumsum(diff[:, ::-1], axis=1)[:, ::-1]
    return np.bincount(order.ravel(), weights=s.ravel(), minlength=n).astype(np.float64)


@dataclass(frozen=True)
class ContributorValue:
    contributor: str
    rows: int
    value: float


def by_contributor(values: NDArray[np.float64], owners: Sequence[str]) -> list[ContributorValue]:
    """Sum row values per contributor, largest first; negative totals are kept."""
    if len(owners) != len(values):
        raise InputError(f"{len(owners)} owners for {len(values)} values")
    totals: dict[str, list[float]] = {}
    for owner, value in zip(owners, values.tolist(), strict=True):
        totals.setdefault(owner, []).append(value)
    out = [ContributorValue(o, len(v), float(np.sum(v))) for o, v in totals.items()]
    return sorted(out, key=lambda c: (-c.value, c.contributor))


# --------------------------------------------------------------------------- any model

BANZHAF_METHOD = "data-banzhaf-msr-wang2023"


@dataclass(frozen=True)
class BanzhafResult:
    """Data Banzhaf values with their standard errors and how the estimate converged."""

    values: NDArray[np.float64]
    stderr: NDArray[np.float64]
    samples: int
    converged: bool
    history: list[tuple[int, float]]  # (samples, largest standard error) as sampling went on


def data_banzhaf(
    utility: Callable[[NDArray[np.bool_]], float],
    players: int,
    *,
    tolerance: float = 0.01,
    min_samples: int = 100,
    max_samples: int = 2000,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> BanzhafResult:
    """Data Banzhaf values (Wang & Jia, AISTATS 2023) of ``players`` (rows or contributors) for
    any model, by the Maximum Sample Reuse estimator: draw subsets that hold each player with
    probability 1/2, evaluate ``utility(mask)`` once per subset, and take for every player the
    mean utility of the subsets with them minus the mean of those without.

    Sampling stops once the largest standard error is below ``tolerance`` (after at least
    ``min_samples``), or at ``max_samples`` with ``converged=False``: the result says which.
    The seed makes the estimate reproducible, so a payout built on it can be recomputed.
    """
    if players < 1:
        raise InputError("there is nothing to value: no players")
    if not 2 <= min_samples <= max_samples:
        raise InputError(f"need 2 <= min_samples <= max_samples, got {min_samples}, {max_samples}")
    rng = np.random.default_rng(seed)
    masks = np.zeros((max_samples, players), dtype=bool)
    utilities = np.zeros(max_samples)
    history: list[tuple[int, float]] = []
    done = 0
    values = stderr = np.zeros(players)
    while done < max_samples:
        block = min(max(min_samples - done, 50), max_samples - done)
        for _ in range(block):
            mask = rng.random(players) < 0.5
            value = float(utility(mask))
            if not np.isfinite(value):
                raise InputError(f"the utility returned {value} for a subset; it must be finite")
            masks[done], utilities[done] = mask, value
            done += 1
        values, stderr = _msr(masks[:done], utilities[:done])
        history.append((done, float(stderr.max())))
        if progress is not None:
            progress(block)
        if done >= min_samples and stderr.max() < tolerance:
            return BanzhafResult(values, stderr, done, True, history)
    return BanzhafResult(values, stderr, done, False, history)


def _msr(
    masks: NDArray[np.bool_], utilities: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per player: mean utility with − mean utility without, and its standard error."""
    inside = masks.astype(np.float64)
    outside = 1.0 - inside
    n_in, n_out = inside.sum(0), outside.sum(0)
    safe_in, safe_out = np.maximum(n_in, 1), np.maximum(n_out, 1)
    mean_in = utilities @ inside / safe_in
    mean_out = utilities @ outside / safe_out
    var_in = (utilities**2) @ inside / safe_in - mean_in**2
    var_out = (utilities**2) @ outside / safe_out - mean_out**2
    stderr = np.sqrt(np.maximum(var_in, 0) / safe_in + np.maximum(var_out, 0) / safe_out)
    stderr[(n_in < 2) | (n_out < 2)] = np.inf
    return mean_in - mean_out, stderr


def knn_accuracy_utility(
    x_train: NDArray[np.float64],
    y_train: NDArray[Any],
    x_test: NDArray[np.float64],
    y_test: NDArray[Any],
    groups: NDArray[np.int64],
    k: int = 5,
) -> Callable[[NDArray[np.bool_]], float]:
    """A utility for :func:`data_banzhaf` whose players are ``groups`` (e.g. contributors):
    test accuracy of a K-nearest-neighbour majority vote trained on the chosen groups' rows."""
    order = np.argsort(
        np.einsum("ij,ij->i", x_train, x_train)[None, :] - 2.0 * (x_test @ x_train.T), axis=1
    )
    ranked_groups = groups[order]
    ranked_labels = y_train[order]

    def utility(mask: NDArray[np.bool_]) -> float:
        keep = mask[ranked_groups]
        if not keep.any():
            return 0.0
        # the first k kept neighbours of each test point
        position = np.cumsum(keep, axis=1)
        chosen = keep & (position <= k)
        votes = (ranked_labels == y_test[:, None]) & chosen
        return float(np.mean(votes.sum(1) * 2 > chosen.sum(1)))

    return utility
