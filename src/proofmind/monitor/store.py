"""The alert store: every alert a monitor raised, once, in one SQLite file.

Writers (``proofmind monitor run``) and readers (the HTTP API, the dashboard's live feed, an agent)
share the file: WAL mode lets readers go on while the monitor writes. An alert is identified by
its key (detector, kind, subject, time), so storing the same condition twice keeps the first copy
(``add`` returns ``None``): replays and restarts never duplicate an alert. Alerts raised on a block
that a reorg dropped are not deleted but marked retracted, so whoever saw them can be told.

Ids grow monotonically; a reader that remembers the last id it saw asks for ``after_id`` and gets
exactly what is new (this is how the live feed streams).
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import logging
import math
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from proofmind.errors import InputError, NotFound, WorkspaceError
from proofmind.monitor.api import Alert
from proofmind.store.sqlite import immediate, open_database

log = logging.getLogger("proofmind.monitor")
ALERTS_FILE = "monitor/alerts.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_key    TEXT    NOT NULL UNIQUE,
    detector     TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    severity     TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    time         REAL    NOT NULL,
    block        INTEGER,
    block_hash   TEXT,
    score        REAL    NOT NULL,
    explanation  TEXT    NOT NULL,
    evidence     TEXT    NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'active',
    stored_at    REAL    NOT NULL,
    retracted_at REAL
);
CREATE INDEX IF NOT EXISTS alerts_time ON alerts(time);
CREATE INDEX IF NOT EXISTS alerts_detector ON alerts(detector, id);
CREATE INDEX IF NOT EXISTS alerts_subject ON alerts(subject, id);
-- a cooldown's look-ups: one detector's alerts on one subject by time
CREATE INDEX IF NOT EXISTS alerts_subject_time ON alerts(subject, detector, time);
CREATE INDEX IF NOT EXISTS alerts_block ON alerts(block);
-- what `monitor run` still has to deliver: one row per (alert or retraction, sink), written in
-- the transaction that stores the alert, so nothing stored goes undelivered
CREATE TABLE IF NOT EXISTS outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id    INTEGER NOT NULL REFERENCES alerts(id),
    event       TEXT    NOT NULL,           -- 'alert' or 'retraction'
    sink        TEXT    NOT NULL,
    -- pending, delivered, dead; or handled, not sent: muted, filtered (below the sink's
    -- severity floor), throttled (within the sink's cooldown), skipped (a retraction of an
    -- alert the sink never got: its delivery a dead letter, or the sink added since)
    status      TEXT    NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     REAL    NOT NULL DEFAULT 0,
    last_error  TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(sink, status, next_at);
CREATE INDEX IF NOT EXISTS outbox_alert ON outbox(alert_id);
-- batches of alerts whose Merkle root is anchored on the provenance ledger: the alerts with ids
-- first_id..last_id, their leaves (32 bytes each, in id order) and the ledger record's key
CREATE TABLE IF NOT EXISTS alert_batches (
    batch       INTEGER PRIMARY KEY AUTOINCREMENT,
    first_id    INTEGER NOT NULL,
    last_id     INTEGER NOT NULL UNIQUE,
    count       INTEGER NOT NULL,
    root        TEXT    NOT NULL,
    leaves      BLOB    NOT NULL,
    record_key  INTEGER,
    created_at  REAL    NOT NULL
);
-- silences: alerts on ``subject`` (compared without case; a glob such as ``0xab*`` or ``*``
-- matches several) from ``detector`` (NULL: any), stored from starts_at until ``until``, are
-- kept and listed but not delivered to any sink
CREATE TABLE IF NOT EXISTS mutes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    subject     TEXT    NOT NULL,
    detector    TEXT,
    starts_at   REAL    NOT NULL,
    until       REAL    NOT NULL,
    reason      TEXT    NOT NULL DEFAULT '',
    created_at  REAL    NOT NULL
);
-- the detectors' state after each processed block range (the last few, to rewind on a reorg)
CREATE TABLE IF NOT EXISTS monitor_state (
    end_block   INTEGER PRIMARY KEY,
    state       TEXT    NOT NULL
);
"""
KEPT_STATES = 64  # block ranges whose detector state is kept for rewinding

STATUSES = ("active", "retracted")
HANDLED = ("muted", "filtered", "throttled", "skipped")  # not sent
OUTBOX_STATUSES = ("pending", "delivered", "dead", *HANDLED)


LEAF_TYPES = ("uint256", "bytes32")  # (alert id, keccak256 of its canonical content)


@dataclass(frozen=True, slots=True)
class AlertBatch:
    """Alerts ``first_id``..``last_id`` under one Merkle root (OpenZeppelin-compatible tree of
    ``leaf_hash(LEAF_TYPES, (id, content hash))``, leaves in id order, not sorted)."""

    batch: int
    first_id: int
    last_id: int
    count: int
    root: str
    leaves: tuple[bytes, ...]
    record_key: int | None
    created_at: float


@dataclass(frozen=True, slots=True)
class Mute:
    """A silence: alerts on ``subject`` (any case; a glob pattern, ``*``, ``?`` and ``[…]``,
    matches several: ``*`` every subject) from ``detector`` (None: any), stored from
    ``starts_at`` until ``until`` or still waiting for delivery then, are not delivered; the
    store keeps them."""

    id: int
    subject: str
    detector: str | None
    starts_at: float
    until: float
    reason: str

    def covers(self, stored: StoredAlert, at: float | None = None) -> bool:
        """Whether ``stored`` is silenced: by its subject and detector, and by the time it was
        stored or (``at``) is delivered: an alert raised in the mute stays silent when a
        backlog delivers it later, and a backlog raised before the mute is held with it."""
        subject, pattern = stored.alert.subject.casefold(), self.subject.casefold()
        return (
            (fnmatch.fnmatchcase(subject, pattern) if is_pattern(pattern) else subject == pattern)
            and self.detector in (None, stored.alert.detector)
            and any(
                self.starts_at <= moment < self.until
                for moment in (stored.stored_at, at)
                if moment is not None
            )
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "subject": self.subject,
            "detector": self.detector,
            "starts_at": _iso(self.starts_at),
            "until": _iso(self.until),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Delivery:
    """A row of the outbox: an alert (``event`` "alert") or its retraction for one sink, and
    how its delivery went (``status``: pending, delivered, dead; or muted, filtered,
    throttled, skipped: handled, not sent)."""

    id: int
    alert_id: int
    event: str
    sink: str
    status: str
    attempts: int
    next_at: float  # a pending delivery is not tried before then (its backoff)
    last_error: str | None
    detector: str  # of the alert: what a list shows
    subject: str
    severity: str

    def to_dict(self) -> dict[str, Any]:
        waiting = self.status == "pending" and self.next_at > 0
        return {
            "id": self.id,
            "alert_id": self.alert_id,
            "event": self.event,
            "sink": self.sink,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": _iso(self.next_at) if waiting else None,
            "last_error": self.last_error,
            "detector": self.detector,
            "subject": self.subject,
            "severity": self.severity,
        }


@dataclass(frozen=True, slots=True)
class Redelivery:
    """What `AlertStore.redeliver` did: the dead letters queued again, and those left dead
    with the reason."""

    queued: tuple[Delivery, ...]
    skipped: tuple[tuple[Delivery, str], ...]


def check_delivery_status(status: str | None) -> str | None:
    """``status`` if it is a delivery's (or None); an error naming the ones there are if not."""
    if status is not None and status not in OUTBOX_STATUSES:
        raise InputError(
            f"unknown delivery status {status!r}", hint=f"use one of {', '.join(OUTBOX_STATUSES)}"
        )
    return status


def _row_to_delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(
        id=int(row["id"]),
        alert_id=int(row["alert_id"]),
        event=str(row["event"]),
        sink=str(row["sink"]),
        status=str(row["status"]),
        attempts=int(row["attempts"]),
        next_at=float(row["next_at"]),
        last_error=row["last_error"],
        detector=str(row["detector"]),
        subject=str(row["subject"]),
        severity=str(row["severity"]),
    )


_DELIVERY_COLUMNS = (
    "o.id, o.alert_id, o.event, o.sink, o.status, o.attempts, o.next_at, o.last_error, "
    "a.detector, a.subject, a.severity, a.status AS alert_status"
)


def _sink_clause(sink: str) -> tuple[str, list[Any]]:
    """Outbox rows of the sink named ``sink`` in full (``webhook:https://…``), or of every
    sink of that kind (``webhook``, ``slack``, ``terminal``)."""
    return "(o.sink = ? OR substr(o.sink, 1, length(?) + 1) = ? || ':')", [sink, sink, sink]


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An alert as stored: the alert itself plus its id, status and block hash."""

    id: int
    alert: Alert
    status: str
    stored_at: float
    block_hash: str | None = None
    retracted_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            **self.alert.to_dict(),
            "status": self.status,
            "stored_at": self.stored_at,
            "block_hash": self.block_hash,
            "retracted_at": self.retracted_at,
        }


def alert_content_hash(stored: StoredAlert) -> bytes:
    """keccak256 of what an alert says, canonical JSON: everything but its delivery status
    (a later retraction does not change what was raised)."""
    from proofmind.crypto.keccak import keccak256

    content = {
        "id": stored.id,
        **stored.alert.to_dict(),
        "block_hash": stored.block_hash,
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return keccak256(text.encode())


def alert_leaf(stored: StoredAlert) -> bytes:
    """The alert's leaf in its batch's Merkle tree."""
    from proofmind.crypto.merkle import leaf_hash

    return leaf_hash(LEAF_TYPES, (stored.id, alert_content_hash(stored)))


def _row_to_batch(row: sqlite3.Row) -> AlertBatch:
    blob = bytes(row["leaves"])
    return AlertBatch(
        batch=row["batch"],
        first_id=row["first_id"],
        last_id=row["last_id"],
        count=row["count"],
        root=row["root"],
        leaves=tuple(blob[i : i + 32] for i in range(0, len(blob), 32)),
        record_key=row["record_key"],
        created_at=row["created_at"],
    )


def alert_key(alert: Alert) -> str:
    """The text form of :attr:`Alert.key`, stable across processes and versions."""
    return json.dumps(list(alert.key), separators=(",", ":"))


def is_pattern(subject: str) -> bool:
    """Whether a mute's subject is a glob pattern (no alert's subject has these characters)."""
    return any(c in subject for c in "*?[")


def subject_key(subject: str | None) -> str | None:
    """A subject as alerts store it: an address or a hash in lower case, whatever case it was
    given in (a checksummed address); anything else as given."""
    if subject is not None and re.fullmatch(r"0x[0-9a-fA-F]+", subject.strip()):
        return subject.strip().lower()
    return subject


LAST_SECOND = 253_402_300_800.0  # 10000-01-01 UTC
_AGO = re.compile(r"(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>[smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_moment(text: str, what: str = "time", now: float | None = None) -> float:
    """A moment a user gives for alerts' times, as unix seconds: an ISO 8601 date or date-time
    (``2022-06-22``, ``2022-06-22T04:00``, in UTC unless it names its zone), unix seconds
    (``1655870400``), or a span before now (``30m``, ``24h``, ``7d``, ``2w``). An error names
    ``what`` (the option) and the forms."""
    given = text.strip()
    hint = (
        f"give {what} as an ISO 8601 date or time in UTC (2022-06-22, 2022-06-22T04:00), "
        "unix seconds (1655870400), or a span before now (30m, 24h, 7d, 2w)"
    )
    ago = _AGO.fullmatch(given.lower())
    if ago is not None:
        span = float(ago["amount"]) * _UNIT_SECONDS[ago["unit"]]
        return (time.time() if now is None else now) - span
    try:
        seconds = float(given)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or seconds < 0:
            raise InputError(f"{what} {text!r} is not a time", hint=hint)
        if seconds >= LAST_SECOND:  # past the year 9999: milliseconds, most likely
            raise InputError(
                f"{what} {text!r} is not a time in seconds (milliseconds?)",
                hint=f"divide milliseconds by 1000; {hint}",
            )
        return seconds
    try:
        moment = datetime.fromisoformat(given.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InputError(f"{what} {text!r} is not a time", hint=hint) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_span(text: str, what: str = "span") -> float:
    """A span a user gives (``30m``, ``24h``, ``7d``, ``2w``, ``90s``) in seconds, more than 0.
    An error names ``what`` (the option) and the forms."""
    span = _AGO.fullmatch(text.strip().lower())
    seconds = float(span["amount"]) * _UNIT_SECONDS[span["unit"]] if span is not None else 0.0
    if not seconds:
        raise InputError(
            f"{what} {text!r} is not a span of time",
            hint="a number and a unit: 90s, 30m, 24h, 7d, 2w",
        )
    if seconds > MAX_SPAN:
        raise InputError(
            f"{what} {text!r} is longer than 10 years", hint="give a span of 3650d or less"
        )
    return seconds


MAX_SPAN = 3650 * 86400.0


def _row_to_mute(row: sqlite3.Row) -> Mute:
    return Mute(
        int(row["id"]),
        str(row["subject"]),
        row["detector"],
        float(row["starts_at"]),
        float(row["until"]),
        str(row["reason"]),
    )


def _row_to_stored(row: sqlite3.Row) -> StoredAlert:
    alert = Alert(
        detector=row["detector"],
        severity=row["severity"],
        subject=row["subject"],
        time=row["time"],
        score=row["score"],
        explanation=row["explanation"],
        evidence=json.loads(row["evidence"]),
        block=row["block"],
        kind=row["kind"],
    )
    return StoredAlert(
        id=row["id"],
        alert=alert,
        status=row["status"],
        stored_at=row["stored_at"],
        block_hash=row["block_hash"],
        retracted_at=row["retracted_at"],
    )


def _insert(
    conn: sqlite3.Connection, alert: Alert, block_hash: str | None, now: float
) -> int | None:
    """Store ``alert`` unless its key is stored; its new id, or None."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO alerts (alert_key, detector, kind, severity, subject,"
        " time, block, block_hash, score, explanation, evidence, stored_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            alert_key(alert),
            alert.detector,
            alert.kind,
            alert.severity,
            alert.subject,
            alert.time,
            alert.block,
            block_hash,
            alert.score,
            alert.explanation,
            json.dumps(alert.evidence, sort_keys=True, default=str),
            now,
        ),
    )
    return cur.lastrowid if cur.rowcount == 1 else None


def _file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``, None when there is none."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


class AlertStore:
    """Alerts in SQLite. Thread-safe; one connection per store, one transaction per write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn = self._open()
        self.generation = 0  # how many times the file was opened again: see reopen_if_replaced
        self._unopened: tuple[int, int] | None = None  # a new file that could not be opened

    def _open(self) -> sqlite3.Connection:
        conn = open_database(
            self.path,
            _SCHEMA,
            what="alert store",
            hint="check that the folder is writable and the file is a proofmind alert store",
        )
        self._file = _file_identity(self.path)
        return conn

    def reopen_if_replaced(self) -> bool:
        """Open the file at :attr:`path` again if it is another file than the one open here
        (the store was deleted and made again, or another file moved over it): an open
        connection would go on reading the old one and see no new alert. True when reopened;
        :attr:`generation` counts the reopenings, for readers that share this store and keep
        an alert id as their position (ids start again at 1 in a new store)."""
        with self._lock:
            now = _file_identity(self.path)
            if now is None or now == self._file:
                return False  # the same file, or none yet (the old one is all there is)
            try:
                conn = self._open()
            except WorkspaceError as exc:  # not ready, or in the way: read the old one for now
                if self._unopened != now:
                    log.warning("the alert store was replaced, but %s; trying again", exc)
                    self._unopened = now
                return False
            old, self._conn = self._conn, conn
            old.close()
            self.generation += 1
            return True

    def last_id_stored_until(self, moment: float) -> int:
        """The id of the newest alert stored at ``moment`` or before (0: none)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT coalesce(max(id), 0) FROM alerts WHERE stored_at <= ?", (moment,)
            ).fetchone()
        return int(row[0])

    @classmethod
    def for_workspace(cls, root: Path) -> AlertStore:
        """The store of the workspace whose `.proofmind/` folder is ``root``."""
        return cls(root / ALERTS_FILE)

    @classmethod
    def existing(cls, root: Path) -> AlertStore | None:
        """The workspace's store if it has one yet, else None (a reader makes no store)."""
        return cls(root / ALERTS_FILE) if (root / ALERTS_FILE).exists() else None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, immediate(self._conn) as conn:
            yield conn

    def add(self, alert: Alert, *, block_hash: str | None = None) -> int | None:
        """Store ``alert``; its id, or ``None`` when an alert with the same key is stored."""
        ids = self.add_many([(alert, block_hash)])
        return ids[0]

    def add_many(self, alerts: Iterable[tuple[Alert, str | None]]) -> list[int | None]:
        """Store several alerts in one transaction; per alert its id or ``None`` (duplicate)."""
        now = time.time()
        out: list[int | None] = []
        with self._write() as conn:
            out = [_insert(conn, alert, block_hash, now) for alert, block_hash in alerts]
        return out

    def get(self, alert_id: int) -> StoredAlert | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return None if row is None else _row_to_stored(row)

    @staticmethod
    def _where(
        detector: str | None,
        subject: str | None,
        severity: str | None,
        status: str | None,
        after_id: int | None,
        before_id: int | None,
        since: float | None = None,
        until: float | None = None,
    ) -> tuple[str, list[Any]]:
        if status is not None and status not in STATUSES:
            raise InputError(
                f"unknown alert status {status!r}", hint=f"use one of {', '.join(STATUSES)}"
            )
        clauses: list[str] = []
        args: list[Any] = []
        for column, value in (
            ("detector", detector),
            ("subject", subject),
            ("severity", severity),
            ("status", status),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        for clause, bound in (
            ("id > ?", after_id),
            ("id < ?", before_id),
            ("time >= ?", since),
            ("time < ?", until),
        ):
            if bound is not None:
                clauses.append(clause)
                args.append(bound)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), args

    def query(
        self,
        *,
        detector: str | None = None,
        subject: str | None = None,
        severity: str | None = None,
        status: str | None = None,
        since: float | None = None,
        until: float | None = None,
        after_id: int | None = None,
        before_id: int | None = None,
        limit: int = 100,
        newest_first: bool = True,
    ) -> list[StoredAlert]:
        """A page of alerts matching every given filter (keyset pagination by id); ``since``
        and ``until`` bound the alerts' own times (``since`` inclusive, ``until`` not)."""
        where, args = self._where(
            detector, subject, severity, status, after_id, before_id, since, until
        )
        order = "DESC" if newest_first else "ASC"
        with self._lock:
            rows = self._conn.execute(
                f"SELECT * FROM alerts{where} ORDER BY id {order} LIMIT ?",
                [*args, max(0, int(limit))],
            ).fetchall()
        return [_row_to_stored(row) for row in rows]

    def count(
        self,
        *,
        detector: str | None = None,
        subject: str | None = None,
        severity: str | None = None,
        status: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> int:
        where, args = self._where(detector, subject, severity, status, None, None, since, until)
        with self._lock:
            row = self._conn.execute(f"SELECT count(*) FROM alerts{where}", args).fetchone()
        return int(row[0])

    def retracted_since(self, moment: float) -> list[StoredAlert]:
        """Alerts retracted at ``moment`` or later (by their retraction's time), oldest
        retraction first: what a follower has not been told yet."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM alerts WHERE status = 'retracted' AND retracted_at >= ? "
                "ORDER BY retracted_at, id",
                (moment,),
            ).fetchall()
        return [_row_to_stored(row) for row in rows]

    def last_id(self) -> int:
        """The id of the newest alert (0 when the store is empty)."""
        with self._lock:
            row = self._conn.execute("SELECT coalesce(max(id), 0) FROM alerts").fetchone()
        return int(row[0])

    def retract_from_block(self, block: int) -> list[StoredAlert]:
        """Mark every active alert raised on ``block`` or later retracted (a reorg dropped it).

        Returns the alerts retracted now, so they can be delivered as retractions.
        """
        now = time.time()
        with self._write() as conn:
            rows = conn.execute(
                "SELECT id FROM alerts WHERE block >= ? AND status = 'active' ORDER BY id",
                (block,),
            ).fetchall()
            ids = [row["id"] for row in rows]
            conn.executemany(
                "UPDATE alerts SET status = 'retracted', retracted_at = ? WHERE id = ?",
                [(now, alert_id) for alert_id in ids],
            )
        return [stored for alert_id in ids if (stored := self.get(alert_id)) is not None]

    # ----------------------------------------------------------------- monitor run

    def commit_range(
        self,
        alerts: Iterable[tuple[Alert, str | None]],
        sinks: Iterable[str],
        end_block: int,
        state: dict[str, Any],
    ) -> list[int]:
        """One transaction: the new alerts, an outbox row per new alert and sink, and the
        detectors' state after ``end_block``. Returns the ids of the alerts new here."""
        now = time.time()
        sinks = list(sinks)
        new: list[int] = []
        with self._write() as conn:
            for alert, block_hash in alerts:
                alert_id = _insert(conn, alert, block_hash, now)
                if alert_id is not None:
                    new.append(alert_id)
            conn.executemany(
                "INSERT INTO outbox (alert_id, event, sink) VALUES (?, 'alert', ?)",
                [(alert_id, sink) for alert_id in new for sink in sinks],
            )
            conn.execute(
                "INSERT OR REPLACE INTO monitor_state (end_block, state) VALUES (?, ?)",
                (end_block, json.dumps(state, sort_keys=True)),
            )
            conn.execute(
                "DELETE FROM monitor_state WHERE end_block NOT IN (SELECT end_block FROM "
                "monitor_state ORDER BY end_block DESC LIMIT ?)",
                (KEPT_STATES,),
            )
        return new

    def processed_through(self) -> tuple[int, dict[str, Any]] | None:
        """The last block range end whose alerts are stored, and the state after it."""
        with self._lock:
            row = self._conn.execute(
                "SELECT end_block, state FROM monitor_state ORDER BY end_block DESC LIMIT 1"
            ).fetchone()
        return None if row is None else (int(row[0]), json.loads(row[1]))

    def oldest_state_block(self) -> int:
        """The end block of the oldest detector state kept (-1 when there is none)."""
        with self._lock:
            row = self._conn.execute("SELECT min(end_block) FROM monitor_state").fetchone()
        return -1 if row[0] is None else int(row[0])

    def rewind(self, fork_block: int, sinks: Iterable[str]) -> tuple[list[StoredAlert], Any]:
        """A reorg replaced ``fork_block`` and later: retract the alerts raised there (each
        retraction queued for every sink), drop the states after the fork, and return the
        retracted alerts with the state before the fork (None: start afresh; an error when
        the states kept do not reach back that far)."""
        now = time.time()
        sinks = list(sinks)
        with self._write() as conn:
            kept = conn.execute(
                "SELECT end_block, state FROM monitor_state WHERE end_block < ? "
                "ORDER BY end_block DESC LIMIT 1",
                (fork_block,),
            ).fetchone()
            later = conn.execute(
                "SELECT count(*) FROM monitor_state WHERE end_block >= ?", (fork_block,)
            ).fetchone()[0]
            oldest = conn.execute("SELECT min(end_block) FROM monitor_state").fetchone()[0]
            if kept is None and later and oldest is not None and oldest >= fork_block:
                total = conn.execute("SELECT count(*) FROM monitor_state").fetchone()[0]
                if total >= KEPT_STATES:
                    raise InputError(
                        f"a reorg from block {fork_block} reaches below the detector states "
                        f"kept (the oldest ends at block {oldest})",
                        hint="start the monitor again from an earlier block with a new store",
                    )
            ids = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM alerts WHERE block >= ? AND status = 'active' ORDER BY id",
                    (fork_block,),
                ).fetchall()
            ]
            for alert_id in ids:
                # the key is freed: the new branch may raise the same alert again
                conn.execute(
                    "UPDATE alerts SET status = 'retracted', retracted_at = ?, "
                    "alert_key = alert_key || '#retracted:' || id WHERE id = ?",
                    (now, alert_id),
                )
            conn.executemany(
                "INSERT INTO outbox (alert_id, event, sink) VALUES (?, 'retraction', ?)",
                [(alert_id, sink) for alert_id in ids for sink in sinks],
            )
            conn.execute("DELETE FROM monitor_state WHERE end_block >= ?", (fork_block,))
        retracted = [stored for alert_id in ids if (stored := self.get(alert_id)) is not None]
        return retracted, (json.loads(kept[1]) if kept is not None else None)

    def pending(self, sink: str, limit: int = 100) -> list[tuple[int, str, int, StoredAlert]]:
        """(outbox id, event, attempts so far, alert) due for delivery to ``sink``, oldest
        first, up to the first that is not due yet: a delivery waiting for its retry holds back
        the later ones, so a receiver gets them in order (an alert before its retraction)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT o.id AS outbox_id, o.event, o.attempts, o.next_at, a.* FROM outbox o "
                "JOIN alerts a ON a.id = o.alert_id WHERE o.sink = ? AND o.status = 'pending' "
                "ORDER BY o.id LIMIT ?",
                (sink, limit),
            ).fetchall()
        now = time.time()
        due = list(itertools.takewhile(lambda r: r["next_at"] <= now, rows))
        return [
            (int(r["outbox_id"]), str(r["event"]), int(r["attempts"]), _row_to_stored(r))
            for r in due
        ]

    def delivered(self, outbox_ids: Iterable[int]) -> None:
        with self._write() as conn:
            conn.executemany(
                "UPDATE outbox SET status = 'delivered', attempts = attempts + 1 WHERE id = ?",
                [(i,) for i in outbox_ids],
            )

    def failed(self, outbox_id: int, error: str, retry_at: float | None) -> None:
        """A delivery attempt failed: retry at ``retry_at``, or dead-letter it (None)."""
        with self._write() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_at = ?, "
                "status = ? WHERE id = ?",
                (error, retry_at or 0, "pending" if retry_at else "dead", outbox_id),
            )

    def oldest_pending(self, now: float | None = None) -> dict[str, float]:
        """Per sink with deliveries pending, how long the oldest has waited: since its alert
        was stored (a retraction: since the alert was retracted). The delivery backlog."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT o.sink, min(CASE WHEN o.event = 'retraction' "
                "THEN coalesce(a.retracted_at, a.stored_at) ELSE a.stored_at END) "
                "FROM outbox o JOIN alerts a ON a.id = o.alert_id WHERE o.status = 'pending' "
                "GROUP BY o.sink"
            ).fetchall()
        at = time.time() if now is None else now
        return {str(r[0]): max(0.0, at - float(r[1])) for r in rows}

    def outbox_counts(self) -> dict[tuple[str, str], int]:
        """(sink, status) → rows."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT sink, status, count(*) FROM outbox GROUP BY sink, status"
            ).fetchall()
        return {(r[0], r[1]): int(r[2]) for r in rows}

    def deliveries(
        self,
        *,
        status: str | None = None,
        sink: str | None = None,
        alert_id: int | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        """Outbox rows, newest first: every one, or those of ``status``, of ``sink`` (a
        sink's full name, or a kind of sink: ``webhook``) and of alert ``alert_id``."""
        clauses: list[str] = ["1"]
        args: list[Any] = []
        if alert_id is not None:
            clauses.append("o.alert_id = ?")
            args.append(alert_id)
        if check_delivery_status(status) is not None:
            clauses.append("o.status = ?")
            args.append(status)
        if sink is not None:
            clause, more = _sink_clause(sink)
            clauses.append(clause)
            args.extend(more)
        if before_id is not None:
            clauses.append("o.id < ?")
            args.append(before_id)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM outbox o JOIN alerts a ON a.id = o.alert_id "
                f"WHERE {' AND '.join(clauses)} ORDER BY o.id DESC LIMIT ?",
                [*args, max(0, int(limit))],
            ).fetchall()
        return [_row_to_delivery(row) for row in rows]

    def redeliver(self, ids: Iterable[int] | None = None, *, sink: str | None = None) -> Redelivery:
        """Queue dead letters again, their attempts counted from zero: those of ``ids``, or
        (``ids`` None) every dead letter, of ``sink`` only if given. Their old ids put them
        first in their sink's order. Left dead, with the reason: an alert retracted since (its
        retraction is what a receiver needs), and a retraction of an alert the sink never got.
        An id that is no delivery, or no dead letter, is refused and nothing changes."""
        wanted = None if ids is None else sorted(set(ids))
        if wanted == []:
            return Redelivery((), ())
        clauses: list[str] = ["1"]
        args: list[Any] = []
        if wanted is not None:
            clauses.append(f"o.id IN ({', '.join('?' * len(wanted))})")
            args.extend(wanted)
        else:
            clauses.append("o.status = 'dead'")
        if sink is not None:
            clause, more = _sink_clause(sink)
            clauses.append(clause)
            args.extend(more)
        queued: list[Delivery] = []
        skipped: list[tuple[Delivery, str]] = []
        with self._write() as conn:
            rows = conn.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM outbox o JOIN alerts a ON a.id = o.alert_id "
                f"WHERE {' AND '.join(clauses)} ORDER BY o.id",
                args,
            ).fetchall()
            if wanted is not None:
                missing = sorted(set(wanted) - {int(row["id"]) for row in rows})
                if missing:
                    raise NotFound(
                        f"no delivery {', '.join(map(str, missing))} in this workspace's "
                        "alert store",
                        hint="`proofmind monitor deliveries --status dead` lists the dead letters",
                    )
                alive = [
                    f"{row['id']} is {row['status']}" for row in rows if row["status"] != "dead"
                ]
                if alive:
                    raise InputError(
                        f"only dead letters are delivered again: delivery {'; '.join(alive)}",
                        hint="`proofmind monitor deliveries --status dead` lists the dead letters",
                    )
            for row in rows:
                delivery = _row_to_delivery(row)
                if row["event"] == "alert" and row["alert_status"] == "retracted":
                    skipped.append(
                        (delivery, f"alert {delivery.alert_id} was retracted since (a reorg)")
                    )
                elif (
                    row["event"] == "retraction"
                    and self.delivery_status(delivery.alert_id, delivery.sink) != "delivered"
                ):
                    skipped.append(
                        (delivery, f"the sink never got alert {delivery.alert_id} to retract")
                    )
                else:
                    queued.append(replace(delivery, status="pending", attempts=0, next_at=0.0))
            conn.executemany(
                "UPDATE outbox SET status = 'pending', attempts = 0, next_at = 0 WHERE id = ?",
                [(d.id,) for d in queued],
            )
        return Redelivery(tuple(queued), tuple(skipped))

    def handled(self, outbox_ids: Iterable[int], status: str) -> None:
        """Deliveries handled without being sent: ``muted`` (a mute covers the alert),
        ``filtered`` (below the sink's severity floor), ``throttled`` (within its cooldown)
        or ``skipped`` (a retraction of an alert the sink never got)."""
        if status not in HANDLED:
            raise ValueError(f"not a status of a delivery handled unsent: {status!r}")
        with self._write() as conn:
            conn.executemany(
                "UPDATE outbox SET status = ? WHERE id = ?", [(status, i) for i in outbox_ids]
            )

    def delivery_status(self, alert_id: int, sink: str) -> str | None:
        """The status of alert ``alert_id``'s delivery (not its retraction's) to ``sink``."""
        with self._lock:
            row = self._conn.execute(
                "SELECT status FROM outbox WHERE alert_id = ? AND sink = ? AND event = 'alert'",
                (alert_id, sink),
            ).fetchone()
        return None if row is None else str(row[0])

    def last_sent(
        self, sink: str, detector: str, subject: str, at_most: float
    ) -> tuple[float, str] | None:
        """(time, severity) of the latest alert of ``detector`` on ``subject`` delivered to
        ``sink`` and not retracted since, of a time up to ``at_most``: where a cooldown
        counts from."""
        with self._lock:
            row = self._conn.execute(
                "SELECT a.time, a.severity FROM alerts a JOIN outbox o ON o.alert_id = a.id "
                "WHERE a.subject = ? AND a.detector = ? AND a.time <= ? AND a.status = 'active' "
                # + keeps the sink's outbox index out: each alert's rows are found by its id
                "AND +o.sink = ? "
                "AND o.event = 'alert' AND +o.status = 'delivered' ORDER BY a.time DESC LIMIT 1",
                (subject, detector, at_most, sink),
            ).fetchone()
        return None if row is None else (float(row[0]), str(row[1]))

    def held_back(self, sink: str, detector: str, subject: str, after: float, until: float) -> int:
        """How many alerts of ``detector`` on ``subject``, of times from ``after`` to
        ``until``, a cooldown held back from ``sink`` (``throttled``) and no reorg retracted:
        what the next alert it gets says was held."""
        with self._lock:
            row = self._conn.execute(
                "SELECT COUNT(*) FROM alerts a JOIN outbox o ON o.alert_id = a.id "
                "WHERE a.subject = ? AND a.detector = ? AND a.time >= ? AND a.time <= ? "
                "AND a.status = 'active' AND +o.sink = ? AND o.event = 'alert' "
                "AND +o.status = 'throttled'",  # by each alert's id, as in last_sent
                (subject, detector, after, until, sink),
            ).fetchone()
        return int(row[0])

    # ----------------------------------------------------------------- mutes

    def mute(
        self,
        subject: str,
        seconds: float,
        *,
        detector: str | None = None,
        reason: str = "",
        now: float | None = None,
    ) -> Mute:
        """Silence alerts on ``subject`` (from ``detector``, or any) stored from now for
        ``seconds``."""
        start = time.time() if now is None else now
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO mutes (subject, detector, starts_at, until, reason, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (subject_key(subject), detector, start, start + seconds, reason, time.time()),
            )
        mute = self.mute_by_id(int(cursor.lastrowid or 0))
        assert mute is not None
        return mute

    def mute_by_id(self, mute_id: int) -> Mute | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM mutes WHERE id = ?", (mute_id,)).fetchone()
        return _row_to_mute(row) if row is not None else None

    def mutes(self, active_at: float | None = None) -> list[Mute]:
        """Every mute, oldest first; with ``active_at``, those not over by then."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM mutes WHERE until > ? ORDER BY id",
                (-math.inf if active_at is None else active_at,),
            ).fetchall()
        return [_row_to_mute(row) for row in rows]

    def unmute(self, mute_id: int, now: float | None = None) -> Mute | None:
        """End a mute now (alerts stored while it held stay silenced); None if there is no
        such mute."""
        end = time.time() if now is None else now
        with self._write() as conn:
            conn.execute("UPDATE mutes SET until = min(until, ?) WHERE id = ?", (end, mute_id))
        return self.mute_by_id(mute_id)

    # ----------------------------------------------------------------- anchoring batches

    def new_batch(self, max_alerts: int = 10_000) -> AlertBatch | None:
        """Put the alerts stored since the last batch (at most ``max_alerts``) in a new batch
        and return it; None when there is no new alert."""
        from proofmind.crypto.merkle import MerkleTree

        if max_alerts < 1:
            raise InputError(f"a batch holds at least one alert, got max_alerts={max_alerts}")
        with self._write() as conn:
            after = conn.execute("SELECT coalesce(max(last_id), 0) FROM alert_batches").fetchone()
            rows = conn.execute(
                "SELECT * FROM alerts WHERE id > ? ORDER BY id LIMIT ?", (after[0], max_alerts)
            ).fetchall()
            if not rows:
                return None
            leaves = [alert_leaf(_row_to_stored(row)) for row in rows]
            root = MerkleTree.of(leaves, sort_leaves=False).root_hex
            cur = conn.execute(
                "INSERT INTO alert_batches (first_id, last_id, count, root, leaves, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (rows[0]["id"], rows[-1]["id"], len(rows), root, b"".join(leaves), time.time()),
            )
            batch = conn.execute(
                "SELECT * FROM alert_batches WHERE batch = ?", (cur.lastrowid,)
            ).fetchone()
        return _row_to_batch(batch)

    def batches(self, *, unrecorded: bool = False) -> list[AlertBatch]:
        where = " WHERE record_key IS NULL" if unrecorded else ""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT * FROM alert_batches{where} ORDER BY batch"
            ).fetchall()
        return [_row_to_batch(row) for row in rows]

    def batch_of(self, alert_id: int) -> AlertBatch | None:
        """The batch holding alert ``alert_id``, if it is in one yet."""
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM alert_batches WHERE first_id <= ? AND last_id >= ?",
                (alert_id, alert_id),
            ).fetchone()
        return None if row is None else _row_to_batch(row)

    def set_batch_record(self, batch: int, record_key: int) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE alert_batches SET record_key = ? WHERE batch = ?", (record_key, batch)
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()
