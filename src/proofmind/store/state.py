"""SQLite state of a workspace: deployments, event cursors, small key/value records.

One file in WAL mode so readers never block the writer; every write is one transaction, so a
crash leaves either the old or the new state, never half of it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from proofmind.errors import WorkspaceError
from proofmind.store.sqlite import immediate

SCHEMA_VERSION = 2

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE deployments (
        chain_id      INTEGER NOT NULL,
        name          TEXT    NOT NULL,
        address       TEXT    NOT NULL,
        tx_hash       TEXT    NOT NULL,
        block_number  INTEGER NOT NULL,
        artifact_hash TEXT    NOT NULL,
        deployer      TEXT    NOT NULL,
        deployed_at   REAL    NOT NULL,
        PRIMARY KEY (chain_id, name)
    );
    CREATE TABLE cursors (
        name          TEXT PRIMARY KEY,
        chain_id      INTEGER NOT NULL,
        next_block    INTEGER NOT NULL,
        updated_at    REAL    NOT NULL
    );
    CREATE TABLE cursor_blocks (
        name          TEXT    NOT NULL REFERENCES cursors(name) ON DELETE CASCADE,
        number        INTEGER NOT NULL,
        hash          TEXT    NOT NULL,
        parent_hash   TEXT    NOT NULL,
        PRIMARY KEY (name, number)
    );
    CREATE TABLE kv (
        key           TEXT PRIMARY KEY,
        value         TEXT NOT NULL
    );
    """,
    2: """
    CREATE TABLE records (
        key           INTEGER PRIMARY KEY,
        kind          INTEGER NOT NULL,
        name          TEXT    NOT NULL,
        content_hash  TEXT    NOT NULL,
        uri           TEXT    NOT NULL,
        parents       TEXT    NOT NULL,
        path          TEXT,
        meta          TEXT,
        status        TEXT    NOT NULL CHECK (status IN ('pending', 'anchored')),
        record_id     TEXT,
        creator       TEXT,
        chain_id      INTEGER,
        registry      TEXT,
        tx_hash       TEXT,
        block_number  INTEGER,
        created_at    REAL    NOT NULL,
        anchored_at   REAL,
        UNIQUE (kind, content_hash, uri, parents)
    );
    CREATE INDEX records_path ON records(path);
    """,
}


class StateDB:
    """A workspace's SQLite database. Thread-safe: one connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._migrate()

    @property
    def conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            except sqlite3.Error as exc:
                raise WorkspaceError(
                    f"cannot open state database {self.path}: {exc}",
                    hint="check the file permissions, or run `proofmind init` to create it",
                ) from exc
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: committed on success, rolled back on any exception."""
        with immediate(self.conn) as conn:
            yield conn

    def journal_mode(self) -> str:
        return str(self.conn.execute("PRAGMA journal_mode").fetchone()[0])

    def _migrate(self) -> None:
        try:
            version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise WorkspaceError(
                f"{self.path} is not a proofmind state database ({exc})",
                hint="move it away and run `proofmind init` again",
            ) from exc
        if version > SCHEMA_VERSION:
            raise WorkspaceError(
                f"state database {self.path} has schema {version}, newer than this proofmind "
                f"understands ({SCHEMA_VERSION})",
                hint="upgrade proofmind",
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self.transaction() as conn:
                for statement in _MIGRATIONS[target].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version={target}")

    def get_value(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def set_value(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO kv(key, value) VALUES(?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )

    def close(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
