from __future__ import annotations

import fcntl
import json
import os
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
    """Two packaged reference MLPs (different weights): real keys, real verifiers. Packaging
    takes most of a minute, so it is done once a run: under pytest-xdist the first worker
    that needs the pair packages it, the others read its manifests (the tests only read the
    packages' files)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if "PYTEST_XDIST_WORKER" in os.environ else base
    folder = shared / "zk-pair"
    manifests = folder / "manifests.json"
    with open(shared / "zk-pair.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not manifests.is_file():
            folder.mkdir(exist_ok=True)
            pair = _package(folder, 0), _package(folder, 1)
            written = folder / "manifests.json.part"
            written.write_text(json.dumps([p.manifest() for p in pair]))
            written.replace(manifests)
            return pair
    blobs = BlobStore(folder / "blobs")
    first, second = (
        zk.Package.from_manifest(m, blobs.path_of) for m in json.loads(manifests.read_text())
    )
    return first, second


@pytest.fixture(scope="session")
def sample_inputs(zk_pair: tuple[zk.Package, zk.Package]) -> list[list[int]]:
    rng = np.random.default_rng(7)
    return [zk.quantize(rng.normal(0, 1, 16), zk_pair[0].input_scale) for _ in range(4)]
