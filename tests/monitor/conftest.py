"""Fixtures of the monitor's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from proofmind.workspace import Workspace, init_workspace


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """A fresh workspace in the test's folder."""
    workspace, _ = init_workspace(tmp_path)
    yield workspace
    workspace.close()
