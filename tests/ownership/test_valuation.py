"""KNN-Shapley equals pyDVL's; bad input is refused; contributor totals keep negative values."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from proofmind.errors import InputError
from proofmind.ownership.valuation import by_contributor, knn_shapley


def _data(n: int, m: int, d: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = (x[:, 0] + 0.7 * rng.normal(size=n) > 0).astype(int)
    xq = rng.normal(size=(m, d))
    yq = (xq[:, 0] > 0).astype(int)
    return x, y, xq, yq


@pytest.mark.parametrize(
    ("n", "m", "d", "k", "seed"), [(200, 30, 3, 5, 1), (1500, 60, 6, 10, 2), (7, 5, 2, 10, 3)]
)
def test_equal_to_pydvl(n: int, m: int, d: int, k: int, seed: int) -> None:
    pydvl = pytest.importorskip("pydvl", reason="pyDVL is the reference implementation")
    del pydvl
    from pydvl.valuation.dataset import Dataset
    from pydvl.valuation.methods.knn_shapley import KNNShapleyValuation
    from sklearn.neighbors import KNeighborsClassifier

    x, y, xq, yq = _data(n, m, d, seed)
    ours = knn_shapley(x, y, xq, yq, k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        valuation = KNNShapleyValuation(
            KNeighborsClassifier(n_neighbors=k), test_data=Dataset(xq, yq), progress=False
        )
        valuation.fit(Dataset(x, y))
    reference = np.zeros(n)
    reference[valuation.result.indices] = valuation.result.values
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-8)


def test_batches_do_not_change_the_values() -> None:
    x, y, xq, yq = _data(500, 40, 3, 4)
    whole = knn_shapley(x, y, xq, yq, 5)
    one_by_one = knn_shapley(x, y, xq, yq, 5, batch_bytes=1)
    np.testing.assert_allclose(whole, one_by_one, rtol=0, atol=1e-12)


def test_values_sum_to_the_accuracy_of_the_full_classifier() -> None:
    """Efficiency: the Shapley values add up to the utility of the whole training set (the
    KNN classifier's mean likelihood of the right label), as the theory says."""
    x, y, xq, yq = _data(300, 50, 2, 5)
    k = 5
    values = knn_shapley(x, y, xq, yq, k)
    dist = ((xq[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    nearest = np.argsort(dist, axis=1)[:, :k]
    utility = (y[nearest] == yq[:, None]).mean(axis=1).mean()
    assert values.sum() == pytest.approx(utility, abs=1e-12)


def test_a_mislabelled_point_has_a_negative_value() -> None:
    x = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [0.15]])
    y = np.array([0, 0, 0, 1, 1, 1])  # the last is a 1 among the 0s
    xq, yq = np.array([[0.05], [0.12], [5.05]]), np.array([0, 0, 1])
    values = knn_shapley(x, y, xq, yq, 1)
    assert values[5] < 0
    assert values[:5].min() > values[5]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda a: a[0].__setitem__((3, 1), np.nan),
            r"x_train holds a NaN or infinite value \(row 3, column 1\)",
        ),
        (lambda a: a[2].__setitem__((0, 0), np.inf), "x_test holds a NaN or infinite value"),
    ],
)
def test_nan_or_infinite_features_are_refused(change: object, message: str) -> None:
    arrays = list(_data(10, 3, 2, 6))
    change(arrays)  # type: ignore[operator]
    with pytest.raises(InputError, match=message):
        knn_shapley(*arrays)


def test_shapes_and_k_are_checked() -> None:
    x, y, xq, yq = _data(10, 3, 2, 7)
    with pytest.raises(InputError, match="one per row"):
        knn_shapley(x, y[:-1], xq, yq)
    with pytest.raises(InputError, match="x_train has 2 features, x_test 3"):
        knn_shapley(x, y, np.zeros((3, 3)), yq)
    with pytest.raises(InputError, match="k must be a positive int"):
        knn_shapley(x, y, xq, yq, 0)
    with pytest.raises(InputError, match="must be numeric"):
        knn_shapley([["a"]], [0], xq, yq)


def test_contributor_totals_keep_negative_values() -> None:
    values = np.array([0.5, -0.2, 0.1, -0.4])
    totals = by_contributor(values, ["alice", "bob", "alice", "bob"])
    assert [(t.contributor, t.rows) for t in totals] == [("alice", 2), ("bob", 2)]
    assert totals[0].value == pytest.approx(0.6) and totals[1].value == pytest.approx(-0.6)


# ------------------------------------------------------------------------ Data Banzhaf


def test_banzhaf_recovers_an_additive_game() -> None:
    """For u(S) = Σ w_i over S the Banzhaf value of i is w_i."""
    from proofmind.ownership.valuation import data_banzhaf

    weights = np.array([0.5, -0.2, 0.1, 0.0, 0.3])
    result = data_banzhaf(
        lambda mask: float(weights[mask].sum()), 5, tolerance=0.01, max_samples=20_000, seed=1
    )
    assert result.converged and result.stderr.max() < 0.01
    assert np.all(np.abs(result.values - weights) < 4 * result.stderr + 1e-12)
    assert result.history[-1] == (result.samples, float(result.stderr.max()))


def test_banzhaf_says_when_it_did_not_converge() -> None:
    from proofmind.ownership.valuation import data_banzhaf

    rng = np.random.default_rng(0)
    result = data_banzhaf(lambda mask: float(rng.random()), 3, tolerance=1e-6, max_samples=300)
    assert not result.converged and result.samples == 300
    assert [n for n, _ in result.history] == [100, 150, 200, 250, 300]


def test_banzhaf_of_contributors_with_a_knn_utility() -> None:
    from proofmind.ownership.valuation import data_banzhaf, knn_accuracy_utility

    x, y, xq, yq = _data(300, 60, 2, 8)
    groups = np.repeat(np.arange(3), 100)
    y = y.copy()
    y[groups == 2] = 1 - y[groups == 2]  # the third contributor's labels are all wrong
    utility = knn_accuracy_utility(x, y, xq, yq, groups, k=5)
    result = data_banzhaf(utility, 3, tolerance=0.02, max_samples=3000, seed=2)
    assert result.values[2] < 0 < min(result.values[0], result.values[1])


def test_banzhaf_refuses_a_non_finite_utility() -> None:
    from proofmind.ownership.valuation import data_banzhaf

    with pytest.raises(InputError, match="must be finite"):
        data_banzhaf(lambda mask: float("nan"), 2)
