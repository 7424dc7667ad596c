"""Fixtures of the monitor's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from proofmind.workspace import Workspace, init_workspace
from tests.monitor.test_live import Receiver


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """A fresh workspace in the test's folder."""
    workspace, _ = init_workspace(tmp_path)
    yield workspace
    workspace.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on a free port, shut down after the test."""
    r = Receiver()
    yield r
    r.server.shutdown()
