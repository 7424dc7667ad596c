"""API keys of a workspace's HTTP API, kept in its state database as SHA-256 hashes only.

A key is ``pmk_`` + 43 URL-safe characters (32 random bytes); it is shown once, when created.
Its first characters (the prefix) name it in lists and logs without revealing it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass

from proofmind.errors import InputError, NotFound
from proofmind.store.state import StateDB

TOKEN_PREFIX = "pmk_"
_SHOWN = 12  # characters of a key kept to name it: "pmk_" and 8 of its random ones
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$")
_TABLE = """
CREATE TABLE IF NOT EXISTS api_keys (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    prefix      TEXT    NOT NULL,
    key_hash    TEXT    NOT NULL UNIQUE,
    created_at  REAL    NOT NULL,
    revoked_at  REAL
)
"""


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    prefix: str
    created_at: float
    revoked_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _ensure(state: StateDB) -> sqlite3.Connection:
    conn = state.conn
    conn.execute(_TABLE)
    return conn


def _row(row: sqlite3.Row) -> ApiKey:
    return ApiKey(row["id"], row["name"], row["prefix"], row["created_at"], row["revoked_at"])


def create_key(state: StateDB, name: str) -> tuple[ApiKey, str]:
    """A new key named ``name``: its record and the key itself (shown this once)."""
    if not _NAME.match(name):
        raise InputError(
            f"API key name {name[:80]!r} is not allowed",
            hint="use 1-64 letters, digits, spaces or ._@- (starting with a letter or digit)",
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    _ensure(state)
    with state.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO api_keys(name, prefix, key_hash, created_at) VALUES(?, ?, ?, ?)",
            (name, token[:_SHOWN], _hash(token), time.time()),
        )
        row = conn.execute("SELECT * FROM api_keys WHERE id=?", (cur.lastrowid,)).fetchone()
    return _row(row), token


def list_keys(state: StateDB) -> list[ApiKey]:
    rows = _ensure(state).execute("SELECT * FROM api_keys ORDER BY id").fetchall()
    return [_row(r) for r in rows]


def revoke_key(state: StateDB, ref: str) -> ApiKey:
    """Revoke the key with id or prefix ``ref``; revoking twice is harmless."""
    conn = _ensure(state)
    rows = conn.execute(
        "SELECT * FROM api_keys WHERE CAST(id AS TEXT)=? OR prefix=?", (ref, ref)
    ).fetchall()
    if not rows:
        raise NotFound(
            f"no API key {ref!r} in this workspace", hint="`proofmind api-key list` shows them"
        )
    if len(rows) > 1:
        raise InputError(f"{ref!r} names {len(rows)} API keys", hint="give the key's id")
    with state.transaction() as tx:
        tx.execute(
            "UPDATE api_keys SET revoked_at=COALESCE(revoked_at, ?) WHERE id=?",
            (time.time(), rows[0]["id"]),
        )
        row = tx.execute("SELECT * FROM api_keys WHERE id=?", (rows[0]["id"],)).fetchone()
    return _row(row)


def check_key(state: StateDB, token: str) -> ApiKey | None:
    """The active key ``token`` is, or None (unknown, revoked or malformed)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    digest = _hash(token)
    row = (
        _ensure(state)
        .execute("SELECT * FROM api_keys WHERE key_hash=? AND revoked_at IS NULL", (digest,))
        .fetchone()
    )
    if row is None or not hmac.compare_digest(row["key_hash"], digest):
        return None
    return _row(row)
