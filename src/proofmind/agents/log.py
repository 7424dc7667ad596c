"""The decision log: every decision an agent makes, in SQLite, written before it acts.

A decision is a canonical JSON record (policy, model record, the alert it saw and the hash of
that input, the action chosen or none, the explanation); its id is the keccak-256 of that JSON,
which is also the decision id the guard sees on-chain, usable once. Statuses:

    noop      nothing to do (no rule matched)       final
    decided   an action was chosen, not yet sent
    sending   the transaction is being sent
    queued    queued in the guard's timelock (action id and eta known)
    sending_queued  the queued action's execution is being sent
    executed  mined; ``tx_hash`` is the transaction  final
    refused   the guard's rules refuse it (named error in ``outcome``)  final
    vetoed    the owners or a guardian vetoed it     final
    lapsed    the queued action's grace period ran out  final
    withdrawn its alert was retracted (its block left the chain in a reorg) before the action
              was sent or, queued, executed: the agent does not act on it  final
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proofmind.errors import InputError
from proofmind.store.sqlite import immediate, open_database

DECISIONS_FILE = "agents/decisions.sqlite"
FINAL = ("noop", "executed", "refused", "vetoed", "lapsed", "withdrawn")
OPEN = ("decided", "sending", "queued", "sending_queued")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT    NOT NULL UNIQUE,
    policy      TEXT    NOT NULL,
    alert_id    INTEGER,
    record      TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    outcome     TEXT    NOT NULL DEFAULT '{}',
    tx_hash     TEXT,
    action_id   TEXT,
    eta         INTEGER,
    created_at  REAL    NOT NULL,
    updated_at  REAL    NOT NULL,
    anchor      TEXT
);
CREATE INDEX IF NOT EXISTS decisions_status ON decisions(policy, status);
CREATE INDEX IF NOT EXISTS decisions_tx ON decisions(tx_hash);
CREATE TABLE IF NOT EXISTS cursors (
    policy      TEXT    PRIMARY KEY,
    alert_id    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS agents (
    name        TEXT    PRIMARY KEY,
    chain_id    INTEGER NOT NULL,
    safe        TEXT    NOT NULL,
    guard       TEXT    NOT NULL,
    created_at  REAL    NOT NULL
);
"""


def canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Decision:
    seq: int
    id: str
    policy: str
    alert_id: int | None
    record: dict[str, Any]
    status: str
    outcome: dict[str, Any]
    tx_hash: str | None
    action_id: str | None
    eta: int | None
    created_at: float
    anchor: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "policy": self.policy,
            "alert_id": self.alert_id,
            "status": self.status,
            "tx_hash": self.tx_hash,
            "action_id": self.action_id,
            "eta": self.eta,
            "outcome": self.outcome,
            "record": self.record,
            "anchor": self.anchor,
        }


def _row(row: sqlite3.Row) -> Decision:
    return Decision(
        seq=row["seq"],
        id=row["id"],
        policy=row["policy"],
        alert_id=row["alert_id"],
        record=json.loads(row["record"]),
        status=row["status"],
        outcome=json.loads(row["outcome"]),
        tx_hash=row["tx_hash"],
        action_id=row["action_id"],
        eta=row["eta"],
        created_at=row["created_at"],
        anchor=row["anchor"],
    )


class DecisionLog:
    """The workspace's decision log. Thread-safe; every write is one transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn = open_database(
            path,
            _SCHEMA,
            what="decision log",
            hint="check the file permissions, or move the file away",
            synchronous="FULL",
        )

    @classmethod
    def for_workspace(cls, root: Path) -> DecisionLog:
        return cls(root / DECISIONS_FILE)

    @classmethod
    def existing(cls, root: Path) -> DecisionLog | None:
        """The workspace's log if it has one (reading never creates it)."""
        path = root / DECISIONS_FILE
        return cls(path) if path.exists() else None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, immediate(self._conn) as conn:
            yield conn

    # -- agents (Safe + guard set-ups) --------------------------------------------------------

    def add_agent(self, name: str, chain_id: int, safe: str, guard: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO agents(name, chain_id, safe, guard, created_at) VALUES(?,?,?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET chain_id=excluded.chain_id, safe=excluded.safe, "
                "guard=excluded.guard",
                (name, chain_id, safe, guard, time.time()),
            )

    def agent(self, name: str) -> tuple[int, str, str]:
        with self._lock:
            row = self._conn.execute(
                "SELECT chain_id, safe, guard FROM agents WHERE name=?", (name,)
            ).fetchone()
        if row is None:
            names = self.agent_names()
            raise InputError(
                f"no guarded Safe named {name!r} in this workspace"
                + (f" (known: {', '.join(names)})" if names else ""),
                hint="create one with `proofmind agent safe create --name NAME`",
            )
        return int(row["chain_id"]), str(row["safe"]), str(row["guard"])

    def agent_names(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT name FROM agents ORDER BY name")]

    # -- decisions --------------------------------------------------------------------------

    def cursor(self, policy: str) -> int:
        with self._lock:
            row = self._conn.execute(
                "SELECT alert_id FROM cursors WHERE policy=?", (policy,)
            ).fetchone()
        return 0 if row is None else int(row[0])

    def decided_alert(self, policy: str, alert_id: int) -> tuple[dict[str, Any], float] | None:
        """The alert ``alert_id`` as ``policy``'s decision on it recorded it, and when the
        decision was made (None: no decision on it)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT record, created_at FROM decisions WHERE policy=? AND alert_id=? "
                "ORDER BY seq DESC LIMIT 1",
                (policy, alert_id),
            ).fetchone()
        if row is None:
            return None
        return json.loads(row[0]).get("alert") or {}, float(row[1])

    def move_cursor(self, policy: str, alert_id: int) -> None:
        """Set ``policy``'s alert cursor, backwards too (its alert store was replaced)."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO cursors(policy, alert_id) VALUES(?, ?) "
                "ON CONFLICT(policy) DO UPDATE SET alert_id=excluded.alert_id",
                (policy, alert_id),
            )

    def record(
        self,
        decisions: Sequence[tuple[str, int | None, dict[str, Any], str]],
        policy: str,
        cursor: int,
    ) -> int:
        """Store new decisions (id, alert id, record, status) and advance the alert cursor, in
        one transaction. A decision already stored (same id) is kept as it is."""
        now = time.time()
        added = 0
        with self._write() as conn:
            for decision_id, alert_id, record, status in decisions:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO decisions(id, policy, alert_id, record, status, "
                    "created_at, updated_at) VALUES(?,?,?,?,?,?,?)",
                    (decision_id, policy, alert_id, canonical(record).decode(), status, now, now),
                )
                added += cur.rowcount
            conn.execute(
                "INSERT INTO cursors(policy, alert_id) VALUES(?, ?) "
                "ON CONFLICT(policy) DO UPDATE SET alert_id=max(alert_id, excluded.alert_id)",
                (policy, cursor),
            )
        return added

    def update(self, decision_id: str, status: str, **fields: Any) -> None:
        allowed = {"outcome", "tx_hash", "action_id", "eta", "anchor"}
        if not set(fields) <= allowed:  # pragma: no cover - a programming error
            raise ValueError(f"unknown fields {set(fields) - allowed}")
        values = {
            k: json.dumps(v, sort_keys=True) if k == "outcome" else v for k, v in fields.items()
        }
        assignments = "".join(f", {k}=?" for k in values)
        with self._write() as conn:
            conn.execute(
                f"UPDATE decisions SET status=?, updated_at=?{assignments} WHERE id=?",
                (status, time.time(), *values.values(), decision_id),
            )

    def update_anchor(self, decision_id: str, record_id: str) -> None:
        """The decision's ledger record is anchored on-chain as ``record_id``."""
        with self._write() as conn:
            conn.execute("UPDATE decisions SET anchor=? WHERE id=?", (record_id, decision_id))

    def open(self, policy: str) -> list[Decision]:
        marks = ",".join("?" for _ in OPEN)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT * FROM decisions WHERE policy=? AND status IN ({marks}) ORDER BY seq",
                (policy, *OPEN),
            ).fetchall()
        return [_row(r) for r in rows]

    def get(self, decision_id: str) -> Decision | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM decisions WHERE id=?", (decision_id,)
            ).fetchone()
        return None if row is None else _row(row)

    def by_tx(self, tx_hash: str) -> Decision | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM decisions WHERE tx_hash=?", (tx_hash.lower(),)
            ).fetchone()
        return None if row is None else _row(row)

    def query(
        self,
        *,
        policy: str | None = None,
        status: str | None = None,
        limit: int = 50,
        before_seq: int | None = None,
    ) -> list[Decision]:
        """Newest first; ``before_seq``: only decisions older than that one (the next page)."""
        clauses: list[str] = []
        args: list[Any] = []
        if before_seq is not None:
            clauses.append("seq<?")
            args.append(before_seq)
        if policy:
            clauses.append("policy=?")
            args.append(policy)
        if status:
            clauses.append("status=?")
            args.append(status)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT * FROM decisions{where} ORDER BY seq DESC LIMIT ?", (*args, limit)
            ).fetchall()
        return [_row(r) for r in rows]

    def executed_calls(self, guard: str, to: str, limit: int = 10_000) -> list[Decision]:
        """The executed decisions of ``guard`` whose action called ``to``, newest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM decisions WHERE status='executed' "
                "AND lower(json_extract(record, '$.guard')) = ? "
                "AND lower(json_extract(record, '$.action.to')) = ? ORDER BY seq DESC LIMIT ?",
                (guard.lower(), to.lower(), limit),
            ).fetchall()
        return [_row(r) for r in rows]

    def timelocked(self, limit: int = 1000) -> list[Decision]:
        """The decisions whose action went through the guard's timelock, newest first: every
        one still queued, however old, and the latest ``limit`` of the others."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM decisions WHERE status='queued' UNION "
                "SELECT * FROM (SELECT * FROM decisions WHERE action_id IS NOT NULL "
                "ORDER BY seq DESC LIMIT ?) ORDER BY seq DESC",
                (limit,),
            ).fetchall()
        return [_row(r) for r in rows]

    def unanchored(self, limit: int = 1000) -> list[Decision]:
        finals = ",".join("?" for _ in FINAL)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT * FROM decisions WHERE anchor IS NULL AND status IN ({finals}) "
                "ORDER BY seq LIMIT ?",
                (*FINAL, limit),
            ).fetchall()
        return [_row(r) for r in rows]

    def counts(self, policy: str | None = None) -> dict[str, int]:
        where, args = (" WHERE policy=?", (policy,)) if policy else ("", ())
        with self._lock:
            rows = self._conn.execute(
                f"SELECT status, count(*) FROM decisions{where} GROUP BY status", args
            ).fetchall()
        return {str(r[0]): int(r[1]) for r in rows}

    def close(self) -> None:
        with self._lock:
            self._conn.close()
