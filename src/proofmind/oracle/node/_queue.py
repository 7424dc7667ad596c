"""The oracle node's persistent request queue: one SQLite table with a row per request, which
the node moves through the states listed in :mod:`proofmind.oracle.node`."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from proofmind.errors import InputError
from proofmind.store.state import StateDB

log = logging.getLogger("proofmind.oracle")
BINDING_KEY = "oracle_node.oracle"  # kv: "CHAIN_ID:ORACLE_ADDRESS" the queue belongs to

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
"""


class RequestQueue:
    """The ``oracle_requests`` table in the node's state database."""

    def __init__(self, state: StateDB) -> None:
        self.state = state
        with state.transaction() as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)

    def add(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Queue new requests, each (request_id, model_id, mode, input, block, deadline,
        updated_at); a request queued already is left as it is."""
        with self.state.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO oracle_requests"
                "(request_id, model_id, mode, input, block, deadline, state, updated_at) "
                "VALUES (?,?,?,?,?,?,'new',?)",
                rows,
            )

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


def open_node_state(db_path: Path, chain_id: int, oracle_address: str) -> StateDB:
    """The node's state database, bound to one InferenceOracle on one chain.

    Request ids start at 1 on every InferenceOracle, and the queue is keyed by id: a queue
    holding another oracle's request 7 would take the new oracle's request 7 for one it has
    seen, and never answer it. So a state database records the oracle it serves. Opened for
    another oracle, a database whose requests are all finished is kept under a new name
    (``oracle-node.31337-0x5FbDB231.sqlite``) and a new one is started; one with open requests
    is refused, since moving it aside would abandon them."""
    binding = f"{chain_id}:{oracle_address}"
    state = StateDB(db_path)
    bound = state.get_value(BINDING_KEY)
    if bound is None:  # a new database, or one from before the binding: it is this oracle's
        state.set_value(BINDING_KEY, binding)
        return state
    if bound.lower() == binding.lower():
        return state
    old_chain, _, old_oracle = bound.partition(":")
    try:
        still_open = RequestQueue(state).open_count()
    finally:
        state.close()
    if still_open:
        raise InputError(
            f"the oracle node's state {db_path} belongs to the InferenceOracle at {old_oracle} "
            f"on chain {old_chain}, and {still_open} of its requests are still open; this node "
            f"serves the one at {oracle_address} on chain {chain_id}",
            hint=f"serve the old oracle until its requests are done, or move {db_path.name} "
            "aside to give them up (a requester takes an unanswered request's fee back with "
            "`proofmind oracle refund ID`)",
        )
    stem = f"{db_path.stem}.{old_chain}-{old_oracle[:10]}"
    archive = db_path.with_name(stem + db_path.suffix)
    n = 1
    while archive.exists():
        n += 1
        archive = db_path.with_name(f"{stem}-{n}{db_path.suffix}")
    for suffix in ("", "-wal", "-shm"):  # close() checkpointed the WAL: these are usually gone
        part = Path(str(db_path) + suffix)
        if part.exists():
            os.replace(part, Path(str(archive) + suffix))
    log.warning(
        "the oracle node's state %s belonged to the InferenceOracle at %s on chain %s (all its "
        "requests finished): kept as %s; starting a new one for the oracle at %s on chain %s",
        db_path, old_oracle, old_chain, archive.name, oracle_address, chain_id,
    )  # fmt: skip
    state = StateDB(db_path)
    state.set_value(BINDING_KEY, binding)
    return state
