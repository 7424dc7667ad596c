"""An exclusive lock held while a process does something that must not run twice at once on
one workspace's state: a monitor following into an alert store, an oracle node serving its
queue, a challenge watcher, an agent running a policy, an ingestion into a folder (these
refuse to start while another holds it), anchoring the ledger's records, saving the devnet's
state (these wait their turn). The kernel drops the lock when the process ends, SIGKILL
included, so a crash never leaves a stale lock behind. Threads of one process exclude each
other too: each ``held`` opens the file anew, and ``flock`` locks belong to the open file."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from proofmind.errors import ConfigError


@dataclass(frozen=True)
class ServiceLock:
    """The lock file ``path`` (its content: the holder's pid) of a service that is ``doing``
    something; ``hint`` says what to do when another holds it."""

    path: Path
    doing: str
    hint: str

    @contextlib.contextmanager
    def held(
        self, wait: float = 0.0, on_wait: Callable[[str], None] | None = None
    ) -> Iterator[None]:
        """Hold the lock for the block; a ConfigError naming the holder when another process
        (or another holder here) has it and does not let go within ``wait`` seconds.
        ``on_wait`` is told once, when waiting starts, whom it waits for."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + wait
        told = False
        with self.path.open("a+", encoding="utf-8") as handle:  # closing it releases the lock

            def holder() -> str:
                handle.seek(0)
                return handle.read().strip() or "unknown"

            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        waited = f", and did not finish within {wait:g} s" if wait else ""
                        raise ConfigError(
                            f"another process (pid {holder()}) is already {self.doing} (it "
                            f"holds {self.path}){waited}",
                            hint=self.hint,
                        ) from None
                    if on_wait is not None and not told:
                        on_wait(
                            f"another process (pid {holder()}) is {self.doing}: waiting up to "
                            f"{wait:g} s for it to finish"
                        )
                        told = True
                    time.sleep(0.05)
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield

    def check(self) -> None:
        """The ConfigError now, before anything is opened, if another holds the lock (taken
        and let go at once: the service holds it with :meth:`held` while it runs)."""
        with self.held():
            pass
