"""Waiting for a service running on another thread to take its lock file."""

from __future__ import annotations

import time
from pathlib import Path


def wait_until_held(lock: Path, what: str, timeout: float = 10.0) -> None:
    """Until ``lock`` names its holder (the pid written once the lock is taken)."""
    deadline = time.monotonic() + timeout
    while not (lock.exists() and lock.read_text().strip()):
        assert time.monotonic() < deadline, f"the {what} never took its lock {lock}"
        time.sleep(0.02)
