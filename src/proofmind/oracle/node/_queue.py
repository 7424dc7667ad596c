"""The oracle node's persistent request queue: one SQLite table with a row per request, which
the node moves through the states listed in :mod:`proofmind.oracle.node`."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from proofmind.store.state import StateDB

log = logging.getLogger("proofmind.oracle")
FINISHED = ("done", "failed", "expired", "lost")  # nothing left to do: no transaction in flight

_SCHEMA = """
CREATE TABLE IF NOT EXISTS oracle_requests (
    request_id     INTEGER PRIMARY KEY,
    model_id       TEXT NOT NULL,
    mode           INTEGER NOT NULL,
    input          TEXT NOT NULL,
    block          INTEGER NOT NULL,
    deadline       INTEGER NOT NULL,
    state          TEXT NOT NULL,
    output         TEXT,
    challenge_ends INTEGER,
    tx_hash        TEXT,
    error          TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    updated_at     REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS oracle_requests_state ON oracle_requests(state);
CREATE TABLE IF NOT EXISTS oracle_models (
    model_id TEXT PRIMARY KEY,
    name     TEXT NOT NULL
);
"""


class RequestQueue:
    """The ``oracle_requests`` table in the node's state database."""

    def __init__(self, state: StateDB) -> None:
        self.state = state
        with state.transaction() as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)

    def name_models(self, names: dict[str, str]) -> None:
        """Remember the package name the node serves under each oracle model id (``0x…``), for
        the request list (`GET /oracle/requests`, the dashboard), which reads the queue only."""
        with self.state.transaction() as conn:
            conn.executemany(
                "INSERT INTO oracle_models(model_id, name) VALUES (?,?) "
                "ON CONFLICT(model_id) DO UPDATE SET name=excluded.name",
                sorted(names.items()),
            )

    def add(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Queue new requests, each (request_id, model_id, mode, input, block, deadline,
        updated_at); a request queued already is left as it is.

        An id seen again in another block, or with another model or input, names another
        request: the chain was reorganised deeper than the node's confirmations (or started
        again from nothing) and gave the id again. A finished row of that id is replaced and
        the request queued again (nothing is sent for it before its on-chain status is read
        back, so a request answered in both branches is not answered twice); a row still in
        flight is left as it is, and logged."""
        insert = (
            "INSERT INTO oracle_requests"
            "(request_id, model_id, mode, input, block, deadline, state, updated_at) "
            "VALUES (?,?,?,?,?,?,'new',?)"
        )
        with self.state.transaction() as conn:
            for row in rows:
                old = conn.execute(
                    "SELECT model_id, input, block, state FROM oracle_requests WHERE request_id=?",
                    (row[0],),
                ).fetchone()
                if old is None:
                    conn.execute(insert, row)
                    continue
                if (old["model_id"], old["input"], old["block"]) == (row[1], row[3], row[4]):
                    continue  # the same request, read again
                if old["state"] in FINISHED:
                    same = (old["model_id"], old["input"]) == (row[1], row[3])
                    log.warning(
                        "request %d is in block %d now, %s (it was in block %d, %s): the chain "
                        "was reorganised or started again; queued again",
                        row[0], row[4], "the same one" if same else "another request",
                        old["block"], old["state"],
                    )  # fmt: skip
                    conn.execute("DELETE FROM oracle_requests WHERE request_id=?", (row[0],))
                    conn.execute(insert, row)
                else:
                    log.warning(
                        "request %d is in block %d now (it was in block %d), and the node's "
                        "answer to it is %s: left as it is; check it with `proofmind oracle "
                        "status %d`",
                        row[0], row[4], old["block"], old["state"], row[0],
                    )  # fmt: skip

    def forget_unsent(self, fork_block: int) -> list[sqlite3.Row]:
        """After a reorg at ``fork_block``: drop the requests from there on that nothing was
        sent for, and return the proposed ones (their proposal may have left with the old
        branch)."""
        with self.state.transaction() as conn:
            conn.execute(
                "DELETE FROM oracle_requests WHERE block >= ? AND state IN ('new', 'answered')",
                (fork_block,),
            )
        return list(
            self.state.conn.execute(
                "SELECT * FROM oracle_requests WHERE block >= ? AND state='proposed'",
                (fork_block,),
            ).fetchall()
        )

    def rows(self, state: str, limit: int = 1_000_000) -> list[sqlite3.Row]:
        return list(
            self.state.conn.execute(
                "SELECT * FROM oracle_requests WHERE state=? ORDER BY request_id LIMIT ?",
                (state, limit),
            )
        )

    def due(self, head: int, limit: int) -> list[sqlite3.Row]:
        """Proposed requests whose challenge window closed before block ``head``, the earliest
        closed first (not the first proposed: another model's longer windows must not hold
        them back)."""
        return list(
            self.state.conn.execute(
                "SELECT * FROM oracle_requests WHERE state='proposed' AND challenge_ends < ? "
                "ORDER BY challenge_ends, request_id LIMIT ?",
                (head, limit),
            )
        )

    def open_count(self) -> int:
        """How many requests the node still has work on."""
        row = self.state.conn.execute(
            "SELECT COUNT(*) FROM oracle_requests "
            "WHERE state IN ('new', 'answered', 'committing', 'committed', 'sending', 'proposed', "
            "'finalizing')"
        ).fetchone()
        return int(row[0])

    def set_state(self, request_id: int, state: str, **fields: Any) -> None:
        assignments = "".join(f", {k}=?" for k in fields)
        sql = f"UPDATE oracle_requests SET state=?, updated_at=?{assignments} WHERE request_id=?"
        with self.state.transaction() as conn:
            conn.execute(sql, (state, time.time(), *fields.values(), request_id))

    def model_of(self, request_id: int) -> str:
        return str(self.rows_by_id([request_id])[0]["model_id"])

    def rows_by_id(self, ids: Sequence[int]) -> list[sqlite3.Row]:
        marks = ",".join("?" * len(ids))
        return list(
            self.state.conn.execute(
                f"SELECT * FROM oracle_requests WHERE request_id IN ({marks}) ORDER BY request_id",
                list(ids),
            )
        )

    def mark(self, ids: Sequence[int], state: str) -> None:
        with self.state.transaction() as conn:
            conn.executemany(
                "UPDATE oracle_requests SET state=?, updated_at=? WHERE request_id=?",
                [(state, time.time(), i) for i in ids],
            )

    def record_tx(self, ids: Sequence[int], tx_hash: str) -> None:
        """The transaction sent for ``ids`` (its receipt moves them on)."""
        with self.state.transaction() as conn:
            conn.executemany(
                "UPDATE oracle_requests SET tx_hash=?, updated_at=? WHERE request_id=?",
                [(tx_hash, time.time(), i) for i in ids],
            )

    def settle(self, updates: Sequence[tuple[str, int | None, float, int]]) -> None:
        """Apply (state, challenge_ends, updated_at, request_id) updates in one transaction."""
        with self.state.transaction() as conn:
            conn.executemany(
                "UPDATE oracle_requests SET state=?, challenge_ends=?, updated_at=? "
                "WHERE request_id=?",
                updates,
            )

    def counts(self) -> dict[str, int]:
        return {
            r[0]: int(r[1])
            for r in self.state.conn.execute(
                "SELECT state, COUNT(*) FROM oracle_requests GROUP BY state"
            )
        }
