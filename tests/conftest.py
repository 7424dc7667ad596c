"""Shared fixtures: a real anvil devnet for the session, isolated per test by
evm_snapshot / evm_revert."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from proofmind.chain.base import Chain
from proofmind.chain.connect import open_chain
from proofmind.chain.devnet import Devnet, DevnetBackend
from proofmind.settings import DevnetSettings, TxSettings
from proofmind.workspace import Workspace, init_workspace

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"


def pytest_configure(config: pytest.Config) -> None:
    # `make test` runs two workers on two cores. OpenMP threads (LightGBM's, torch's) spin
    # while they wait by default and so take the other worker's core: two hop_sybil
    # detections side by side took 148 s spinning, 94 s passive. Set before any test loads
    # an OpenMP runtime; subprocesses (the CLI under test) inherit it.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def devnet_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    workspace, _ = init_workspace(tmp_path_factory.mktemp("devnet-ws"))
    yield workspace
    workspace.close()


@pytest.fixture(scope="session")
def devnet(devnet_workspace: Workspace) -> Iterator[Devnet]:
    node = Devnet(devnet_workspace.chain_dir, DevnetSettings(state_interval=60))
    node.up()
    yield node
    node.down()


@pytest.fixture(scope="session")
def devnet_chain(devnet: Devnet) -> Iterator[Chain]:
    chain = open_chain(DevnetBackend(devnet), tx=TxSettings(poll_interval=0.02))
    yield chain
    chain.close()


@pytest.fixture
def chain(devnet_chain: Chain) -> Iterator[Chain]:
    """The session devnet, rolled back after the test so tests cannot see each other."""
    snapshot = devnet_chain.snapshot()
    yield devnet_chain
    devnet_chain.revert(snapshot)
