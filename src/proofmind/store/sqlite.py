"""The SQLite set-up shared by the workspace's side databases (alert store, decision log,
appeals): one connection in autocommit mode, WAL, a busy timeout, and explicit
``BEGIN IMMEDIATE`` transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from proofmind.errors import WorkspaceError


def open_database(
    path: Path, schema: str, *, what: str, hint: str, synchronous: str = "NORMAL"
) -> sqlite3.Connection:
    """A connection to ``path`` (created with its folder if missing) with ``schema`` applied;
    any failure is a WorkspaceError naming ``what`` and the file."""
    conn: sqlite3.Connection | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.executescript(schema)
    except (OSError, sqlite3.Error) as exc:
        if conn is not None:
            conn.close()  # held open, it would keep what was in the way in use in this process
        leftovers = [
            f"{path.name}{end}" for end in ("-wal", "-shm") if Path(f"{path}{end}").exists()
        ]
        if "disk I/O error" in str(exc) and leftovers:
            # the file was deleted while a process had it open: that process still uses the
            # write-ahead log and its index at these names, which do not fit a new file
            hint = (
                f"{' and '.join(leftovers)} next to it may belong to a deleted copy that a "
                f"running process still has open: stop that process, or delete "
                f"{'it' if len(leftovers) == 1 else 'them'} too"
            )
        raise WorkspaceError(f"cannot open the {what} {path}: {exc}", hint=hint) from exc
    return conn


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One atomic write: committed on success, rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
