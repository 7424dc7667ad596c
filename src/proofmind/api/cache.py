"""Answers to ``GET /api/v1/records/{ref}`` (and ``/datasets/{ref}``, ``/runs/{ref}``, …)
kept in memory and served before routing.

A record's answer depends only on its row in the workspace's state database, so an answer may
be replayed for as long as that database is unchanged. Every use checks its *generation*: SQLite's
``PRAGMA data_version`` (it moves when any other connection, in this process or another, commits)
with this connection's own ``total_changes``. Any write to the state database (a commit, an
anchor, a reorg that sends a record back to pending, a new API key) empties the cache; between
writes a hit costs a dictionary look-up instead of routing, dependency solving, the row read and
the JSON encoding.

A hit passes the same guard as the endpoint (:func:`authorize`: a key given must be valid, one is
needed when reads are not public, the per-caller rate limit counts it), and honours
``If-None-Match`` (304) exactly as the endpoint does. Only complete 200 answers to GETs without a
query string are kept; the cache is a bounded LRU (``[api] record_cache_mb``; 0 turns it off).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from proofmind.api.guards import authorize
from proofmind.api.problems import ApiProblem, problem

if TYPE_CHECKING:
    from proofmind.api.services import Services

RECORD_PATH = re.compile(r"^/api/v1/(records|datasets|runs|models|inferences)/([^/]+)$")
ROUTE_KEY = "proofmind.route"  # the route template of an answer given before routing
_ENTRY_OVERHEAD = 200  # bytes a cache entry costs beyond its body and headers, roughly
_LARGEST = 256 * 1024  # answers above this are not kept


@dataclass(frozen=True, slots=True)
class _Entry:
    headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: str
    not_modified: list[tuple[bytes, bytes]]  # the headers of a 304
    size: int


class RecordCache:
    """ASGI middleware: the record answers of :data:`RECORD_PATH` from memory while the state
    database is unchanged (see the module's text)."""

    def __init__(self, app: ASGIApp, services: Services, max_bytes: int) -> None:
        self.app = app
        self.services = services
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0
        self._generation: tuple[int, int] | None = None
        self.hits = 0
        self.misses = 0

    def generation(self) -> tuple[int, int]:
        """What changes whenever the state database does (on this thread's connection: the
        event loop's, where every call of this middleware runs)."""
        conn = self.services.workspace.state.conn
        return int(conn.execute("PRAGMA data_version").fetchone()[0]), conn.total_changes

    def _current(self) -> tuple[int, int]:
        now = self.generation()
        if now != self._generation:
            self._entries.clear()
            self._bytes = 0
            self._generation = now
        return now

    def __len__(self) -> int:
        return len(self._entries)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.max_bytes <= 0
            or scope["type"] != "http"
            or scope["method"] != "GET"
            or scope.get("query_string")
        ):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        found = RECORD_PATH.match(path)
        if found is None:
            await self.app(scope, receive, send)
            return
        scope[ROUTE_KEY] = f"/api/v1/{found.group(1)}/{{ref}}"
        generation = self._current()
        entry = self._entries.get(path)
        if entry is not None:
            self._entries.move_to_end(path)
            self.hits += 1
            await self._answer(entry, scope, send)
            return
        self.misses += 1
        await self._fill(path, generation, scope, receive, send)

    async def _answer(self, entry: _Entry, scope: Scope, send: Send) -> None:
        held = authorization = None
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                held = value.decode("latin-1")
            elif name == b"authorization":
                authorization = value.decode("latin-1")
        client = scope.get("client")
        try:
            authorize(
                self.services,
                authorization,
                client[0] if client else "-",
                required=not self.services.settings.public_reads,
            )
        except ApiProblem as exc:
            response = problem(
                exc.status, str(exc), slug=exc.slug, instance=scope["path"], headers=exc.headers
            )
            await response(scope, _no_body, send)
            return
        if held is not None:
            tags = {t.strip().removeprefix("W/") for t in held.split(",")}
            if "*" in tags or entry.etag in tags:
                await send(
                    {"type": "http.response.start", "status": 304, "headers": entry.not_modified}
                )
                await send({"type": "http.response.body", "body": b""})
                return
        await send({"type": "http.response.start", "status": 200, "headers": entry.headers})
        await send({"type": "http.response.body", "body": entry.body})

    async def _fill(
        self, path: str, generation: tuple[int, int], scope: Scope, receive: Receive, send: Send
    ) -> None:
        """The endpoint answers; a complete 200 is kept for the next caller."""
        status = 0
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        size = 0
        complete = False

        async def keep(message: Message) -> None:
            nonlocal status, headers, size, complete
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers") or [])
            elif message["type"] == "http.response.body" and status == 200 and size <= _LARGEST:
                body = bytes(message.get("body", b""))
                chunks.append(body)
                size += len(body)
                complete = not message.get("more_body", False)
            await send(message)

        await self.app(scope, receive, keep)
        if status != 200 or not complete or size > _LARGEST:
            return
        if self.generation() != generation:  # the database changed while it was answered
            return
        etag = next((v.decode("latin-1") for k, v in headers if k.lower() == b"etag"), None)
        if etag is None:
            return
        kept = [(k.lower(), v) for k, v in headers]
        entry = _Entry(
            headers=kept,
            body=b"".join(chunks),
            etag=etag,
            not_modified=[(k, v) for k, v in kept if k in (b"etag", b"cache-control")],
            size=size + sum(len(k) + len(v) for k, v in kept) + len(path) + _ENTRY_OVERHEAD,
        )
        old = self._entries.pop(path, None)
        if old is not None:
            self._bytes -= old.size
        self._entries[path] = entry
        self._bytes += entry.size
        while self._bytes > self.max_bytes and self._entries:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= dropped.size


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


__all__ = ["RECORD_PATH", "ROUTE_KEY", "RecordCache"]
