"""Shared fixtures: a real anvil devnet for the session, isolated per test by
evm_snapshot / evm_revert."""

from __future__ import annotations

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
