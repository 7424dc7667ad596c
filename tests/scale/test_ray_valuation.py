"""KNN-Shapley with its test-point batches as Ray tasks gives the values of the local run."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from proofmind.errors import InputError
from proofmind.ownership.valuation import knn_shapley


@pytest.fixture(scope="module")
def ray_local() -> Iterator[object]:
    ray = pytest.importorskip("ray", reason="the Ray engine is an extra: proofmind[ray]")
    from proofmind.provenance.chunked import ray_init

    ray_init(None, 2)
    yield ray
    ray.shutdown()


def test_ray_batches_equal_local_values(ray_local: object) -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2000, 4))
    y = (x[:, 0] + 0.5 * rng.normal(size=2000) > 0).astype(int)
    xq = rng.normal(size=(300, 4))
    yq = (xq[:, 0] > 0).astype(int)
    budget = 8 * 5 * 2000 * 16  # 16 test points a batch: 19 batches, 19 Ray tasks
    local = knn_shapley(x, y, xq, yq, 7, batch_bytes=budget)
    done: list[int] = []
    on_ray = knn_shapley(x, y, xq, yq, 7, batch_bytes=budget, engine="ray", progress=done.append)
    assert sum(done) == 300 and len(done) == 19
    np.testing.assert_array_equal(on_ray, local)  # the same sums in the same order: equal bits


def test_unknown_engine() -> None:
    with pytest.raises(InputError, match="unknown engine"):
        knn_shapley([[0.0]], [1], [[0.0]], [1], 1, engine="dask")
