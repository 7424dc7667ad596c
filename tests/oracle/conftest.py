from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from proofmind.ml import zk
from proofmind.ml.onnx_models import reference_mlp
from proofmind.store.blobs import BlobStore


def _package(folder: Path, seed: int) -> zk.Package:
    model = reference_mlp(folder / f"mlp-{seed}.onnx", seed=seed)
    rng = np.random.default_rng(100 + seed)
    np.savetxt(folder / f"cal-{seed}.csv", rng.normal(0, 1, (24, 16)), delimiter=",")
    blobs = BlobStore(folder / "blobs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the development-SRS warning
        return zk.package(
            model,
            folder / f"cal-{seed}.csv",
            store=blobs.adopt,
            path_of=blobs.path_of,
            name=f"mlp{seed}",
        )


@pytest.fixture(scope="session")
def zk_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[zk.Package, zk.Package]:
    """Two packaged reference MLPs (different weights): real keys, real verifiers."""
    folder = tmp_path_factory.mktemp("zk")
    return _package(folder, 0), _package(folder, 1)


@pytest.fixture(scope="session")
def sample_inputs(zk_pair: tuple[zk.Package, zk.Package]) -> list[list[int]]:
    rng = np.random.default_rng(7)
    return [zk.quantize(rng.normal(0, 1, 16), zk_pair[0].input_scale) for _ in range(4)]
