"""A service running on another thread, holding its lock file, while a test tries a second;
a second process refused; work started on several threads at once."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path


def wait_until_held(lock: Path, what: str, timeout: float = 10.0) -> None:
    """Until ``lock`` names its holder (the pid written once the lock is taken)."""
    deadline = time.monotonic() + timeout
    while not (lock.exists() and lock.read_text().strip()):
        assert time.monotonic() < deadline, f"the {what} never took its lock {lock}"
        time.sleep(0.02)


@contextlib.contextmanager
def running(
    run: Callable[[], object], stop: Callable[[], None], lock: Path, what: str
) -> Iterator[None]:
    """``run()`` on a thread, inside the block once it holds ``lock``; stopped (``stop()``)
    and finished when the block ends."""
    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    try:
        wait_until_held(lock, what)
        yield
    finally:
        stop()
        runner.join(timeout=30)
    assert not runner.is_alive(), f"the {what} did not stop"


def at_once(count: int, work: Callable[[], object], timeout: float = 60.0) -> list[BaseException]:
    """``work()`` on ``count`` threads released together; what each raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def one() -> None:
        start.wait()
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    return errors


def refused_second(args: list[str], holder: int, doing: str) -> None:
    """``proofmind ARGS`` run while process ``holder`` holds the lock: it stops at once with
    one line naming the holder and what it is ``doing``."""
    second = subprocess.run(
        [sys.executable, "-m", "proofmind", *args],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert second.returncode != 0 and "Traceback" not in second.stderr
    assert second.stderr.startswith(f"error: another process (pid {holder}) is already {doing}"), (
        second.stderr
    )
