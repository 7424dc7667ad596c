"""Record answers kept in memory (`RecordCache`): a hit is byte-for-byte the endpoint's own
answer, any write to the workspace is seen at once, and a hit passes the same key check and
rate limit as the endpoint. And the event loop `proofmind serve` runs on."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from proofmind.api.cache import RecordCache
from proofmind.app.apikeys import create_key
from proofmind.chain.base import Chain
from proofmind.provenance.ledger import Ledger, LocalRecord
from proofmind.provenance.records import Kind
from proofmind.workspace import Workspace

from .conftest import MakeApi


def the_cache(http: Any) -> RecordCache:
    """The RecordCache in the app's middleware chain (built by the first request)."""
    layer = http.app.middleware_stack
    while not isinstance(layer, RecordCache):
        layer = layer.app
    return layer


def add(ws: Workspace, n: int, kind: Kind = Kind.DATASET) -> LocalRecord:
    return Ledger(ws).add(kind, f"item-{n}", "0x" + f"{n:02x}" * 32, f"proofmind://x/{n}")


def test_a_hit_is_the_endpoints_own_answer(ws: Workspace, make_api: MakeApi) -> None:
    record = add(ws, 1)
    _, http = make_api()
    _, plain = make_api(record_cache_mb=0)
    url = f"/api/v1/records/{record.key}"
    first, second = http.get(url), http.get(url)
    uncached = plain.get(url)
    assert first.status_code == second.status_code == uncached.status_code == 200
    assert first.content == second.content == uncached.content
    assert first.headers.raw == second.headers.raw == uncached.headers.raw
    assert first.json()["name"] == "item-1" and first.headers["etag"].startswith('"')
    cache = the_cache(http)
    assert (cache.hits, cache.misses, len(cache)) == (1, 1, 1)
    # conditional GET from the cache: the endpoint's own 304
    etag = first.headers["etag"]
    hit = http.get(url, headers={"If-None-Match": f'W/"x", {etag}'})
    direct = plain.get(url, headers={"If-None-Match": f'W/"x", {etag}'})
    assert hit.status_code == direct.status_code == 304 and hit.content == b""
    assert hit.headers.raw == direct.headers.raw
    assert http.get(url, headers={"If-None-Match": '"other"'}).content == first.content
    assert cache.hits == 3 and the_cache(plain).hits == 0
    # the kind routes share nothing with /records: a dataset is not a model, cached or not
    assert http.get(f"/api/v1/datasets/{record.key}").json() == first.json()
    for _ in range(2):
        wrong = http.get(f"/api/v1/models/{record.key}")
        assert wrong.status_code == 404 and "is a dataset, not a model" in wrong.json()["detail"]
    # a query string is answered by the endpoint, never from memory
    hits = cache.hits
    assert http.get(url, params={"x": "1"}).content == first.content and cache.hits == hits
    # the request metrics name the route of cached answers too
    metrics = http.get("/metrics").text
    assert 'route="/api/v1/records/{ref}",status="200"' in metrics
    assert 'route="/api/v1/records/{ref}",status="304"' in metrics


def test_writes_to_the_workspace_are_seen_at_once(ws: Workspace, make_api: MakeApi) -> None:
    first = add(ws, 1)
    _, http = make_api()
    assert http.get("/api/v1/records/2").status_code == 404
    before = http.get(f"/api/v1/records/{first.key}")
    assert http.get(f"/api/v1/records/{first.key}").content == before.content
    # a new record (written by this process's other connection, as a command would)
    second = add(ws, 2, Kind.MODEL)
    got = http.get(f"/api/v1/records/{second.key}")
    assert got.status_code == 200 and got.json()["kind"] == "model"
    # a changed record: the same content committed from elsewhere updates its path
    Ledger(ws).add(
        Kind.DATASET, "item-1", first.content_hash, first.uri, path=ws.root.parent / "moved.csv"
    )
    after = http.get(f"/api/v1/records/{first.key}")
    assert after.json()["path"] == "moved.csv" and before.json()["path"] is None
    assert after.headers["etag"] != before.headers["etag"]
    # another process writing the database directly
    with sqlite3.connect(ws.root / "state.sqlite") as conn:
        conn.execute("UPDATE records SET name='renamed' WHERE key=?", (first.key,))
    assert http.get(f"/api/v1/records/{first.key}").json()["name"] == "renamed"


def test_keyed_reads_are_refused_without_a_key_from_the_cache_too(
    ws: Workspace, make_api: MakeApi
) -> None:
    record = add(ws, 1)
    _, token = create_key(ws.state, "reader")
    _, http = make_api(public_reads=False, rate_per_second=0.01, rate_burst=4)
    url = f"/api/v1/records/{record.key}"
    auth = {"Authorization": f"Bearer {token}"}
    assert http.get(url, headers=auth).status_code == 200  # the endpoint answers, kept
    assert len(the_cache(http)) == 1
    missing = http.get(url)
    assert missing.status_code == 401 and missing.json()["detail"].startswith(
        "this endpoint needs an API key"
    )
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["instance"] == url
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = http.get(url, headers={"Authorization": "Bearer pmk_nope"})
    assert wrong.status_code == 401 and "unknown or revoked" in wrong.json()["detail"]
    assert http.get(url, headers={"Authorization": "Basic x"}).status_code == 401
    assert http.get(url, headers=auth).status_code == 200  # a hit, with the key
    # hits count against the caller's rate: 4 at once, then 429 from the cache
    assert http.get(url, headers=auth).status_code == 200
    assert http.get(url, headers=auth).status_code == 200
    limited = http.get(url, headers=auth)
    assert limited.status_code == 429 and limited.headers["retry-after"]
    assert "too many requests from API key" in limited.json()["detail"]
    assert the_cache(http).hits >= 4


def test_the_cache_is_bounded(ws: Workspace, make_api: MakeApi) -> None:
    keys = [add(ws, n).key for n in range(1, 41)]
    _, http = make_api(record_cache_mb=8 / 1024)  # 8 KiB: room for a few answers only
    for key in keys:
        assert http.get(f"/api/v1/records/{key}").status_code == 200
    cache = the_cache(http)
    assert 0 < len(cache) < 20 and cache._bytes <= 8 * 1024
    newest = http.get(f"/api/v1/records/{keys[-1]}")  # the newest answers stay
    assert newest.status_code == 200 and cache.hits == 1
    assert http.get(f"/api/v1/records/{keys[0]}").status_code == 200 and cache.hits == 1


def test_cors_headers_on_cached_answers(ws: Workspace, make_api: MakeApi) -> None:
    record = add(ws, 1)
    _, http = make_api(cors_origins=["https://dash.example.org"])
    origin = {"Origin": "https://dash.example.org"}
    for _ in range(2):
        got = http.get(f"/api/v1/records/{record.key}", headers=origin)
        assert got.headers["access-control-allow-origin"] == "https://dash.example.org"
        assert "ETag" in got.headers["access-control-expose-headers"]
    assert the_cache(http).hits == 1


@pytest.mark.devnet
def test_a_record_read_while_pending_is_read_anchored_after(
    ws: Workspace, chain: Chain, make_api: MakeApi
) -> None:
    record = add(ws, 1)
    _, http = make_api()
    url = f"/api/v1/records/{record.key}"
    for _ in range(2):
        pending = http.get(url)
        assert pending.json()["state"] == "pending"
        assert pending.headers["cache-control"] == "no-cache"
    assert Ledger(ws).anchor(chain).anchored
    anchored = http.get(url)
    assert anchored.json()["state"] == "anchored" and anchored.json()["record_id"]
    assert anchored.headers["cache-control"].startswith("public, max-age=")
    assert http.get(f"/api/v1/records/{anchored.json()['record_id']}").content == (anchored.content)


@pytest.mark.parametrize(
    ("choice", "expected"), [("auto", "uvloop"), ("uvloop", "uvloop"), ("asyncio", "asyncio")]
)
def test_serve_runs_on_the_chosen_event_loop(choice: str, expected: str) -> None:
    import asyncio

    from proofmind.app.hosting import run_loop

    seen: list[str] = []

    async def main() -> None:
        seen.append(type(asyncio.get_running_loop()).__module__.split(".")[0])

    run_loop(main, choice)
    assert seen == [expected]


def test_an_unknown_event_loop_is_refused() -> None:
    from proofmind.app.hosting import run_loop
    from proofmind.errors import InputError

    async def main() -> None:
        raise AssertionError("not run")

    with pytest.raises(InputError, match="unknown event loop 'trio'"):
        run_loop(main, "trio")
