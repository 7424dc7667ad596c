"""Bad input through the API: the right 4xx as a problem document with the CLI's wording,
and nothing written."""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

import pytest

from proofmind.app.apikeys import create_key, list_keys, revoke_key
from proofmind.client import ApiError
from proofmind.workspace import Workspace

from .conftest import Lineage, MakeApi

PROBLEM = "application/problem+json"


def snapshot(ws: Workspace) -> tuple[set[str], list[tuple[object, ...]]]:
    """Files of the project folder (SQLite's -wal/-shm aside) and every state row."""
    root = ws.root.parent
    files = {
        str(Path(d, n).relative_to(root))
        for d, _, names in os.walk(root)
        for n in names
        if not n.endswith(("-wal", "-shm", "-journal"))
    }
    with sqlite3.connect(ws.root / "state.sqlite") as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = [(t, *row) for t in sorted(tables) for row in conn.execute(f"SELECT * FROM {t}")]
    return files, rows


def test_write_endpoints_need_a_valid_key(ws: Workspace, make_api: MakeApi) -> None:
    key, token = create_key(ws.state, "ci")
    _, http = make_api()
    body = {"model": "nosuch", "values": [1.0]}
    before = snapshot(ws)
    missing = http.post("/api/v1/oracle/requests", json=body)
    assert missing.status_code == 401 and missing.headers["content-type"] == PROBLEM
    assert missing.json()["detail"].startswith("this endpoint needs an API key")
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = http.post(
        "/api/v1/oracle/requests", json=body, headers={"Authorization": "Bearer pmk_nope"}
    )
    assert wrong.status_code == 401 and "unknown or revoked" in wrong.json()["detail"]
    basic = http.post("/api/v1/oracle/requests", json=body, headers={"Authorization": "Basic x"})
    assert basic.status_code == 401
    # with the key, the request gets past the guard to the CLI's own error
    good = http.post(
        "/api/v1/oracle/requests", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert good.status_code == 400, good.text
    assert good.json()["detail"] == (
        "no packaged model named 'nosuch' in this workspace — package it with "
        "`proofmind model package MODEL.onnx --calibration FILE`"
    )
    revoke_key(ws.state, str(key.id))
    revoked = http.post(
        "/api/v1/oracle/requests", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert revoked.status_code == 401
    after = snapshot(ws)
    assert after[0] == before[0]
    assert [r for r in after[1] if r[0] != "api_keys"] == [
        r for r in before[1] if r[0] != "api_keys"
    ]


def test_keys_are_stored_hashed(ws: Workspace) -> None:
    key, token = create_key(ws.state, "dashboard")
    assert token.startswith("pmk_") and len(token) == 47
    raw = (ws.root / "state.sqlite").read_bytes() + (ws.root / "state.sqlite-wal").read_bytes()
    assert token.encode() not in raw and token[12:].encode() not in raw
    assert [k.name for k in list_keys(ws.state)] == ["dashboard"] and key.active


def test_bad_requests(ws: Workspace, make_api: MakeApi) -> None:
    _, token = create_key(ws.state, "ci")
    api, http = make_api(api_key=token, max_body_bytes=4096)
    auth = {"Authorization": f"Bearer {token}"}
    before = snapshot(ws)
    cases = [
        # oversized upload
        (
            http.post(
                "/api/v1/verify", files={"file": ("a.csv", b"x" * 10_000)}, data={"record": "1"}
            ),
            413,
        ),
        # wrong content type
        (
            http.post("/api/v1/verify", content=b"path=a", headers={"Content-Type": "text/plain"}),
            415,
        ),
        (
            http.post(
                "/api/v1/oracle/requests",
                content=b"model=x",
                headers={**auth, "Content-Type": "application/x-www-form-urlencoded"},
            ),
            415,
        ),
        # malformed JSON
        (
            http.post(
                "/api/v1/verify", content=b"{nope", headers={"Content-Type": "application/json"}
            ),
            400,
        ),
        (
            http.post(
                "/api/v1/oracle/requests",
                content=b'{"model": ',
                headers={**auth, "Content-Type": "application/json"},
            ),
            400,
        ),
        (
            http.post("/api/v1/oracle/requests", json={"model": "m", "values": "x"}, headers=auth),
            422,
        ),
        # unknown ids
        (http.get("/api/v1/records/999"), 404),
        (http.get("/api/v1/records/0x" + "ab" * 32), 404),
        (http.get("/api/v1/alerts/999"), 404),
        (http.get("/api/v1/nosuch"), 404),
        (http.get("/api/v1/records/12abc"), 400),
        (http.get("/api/v1/records", params={"kind": "cat"}), 400),
        (http.get("/api/v1/records", params={"cursor": "bm90LWEtY3Vyc29y"}), 400),
        (http.get("/api/v1/alerts", params={"status": "odd"}), 400),
        (http.get("/api/v1/oracle/requests/-1"), 422),
        # path traversal, in path parameters and in a named path
        (http.get("/api/v1/records/..%2F..%2Fetc%2Fpasswd"), 404),
        (http.get("/api/v1/records/%2E%2E"), 400),
        (http.get("/api/v1/records/..%5C..%5Cstate.sqlite"), 400),
        (http.get("/api/v1/records/1/lineage", params={"format": "../x"}), 400),
        (http.post("/api/v1/verify", json={"path": "../../etc/passwd"}), 400),
        (http.post("/api/v1/verify", json={"path": "/etc/passwd"}), 400),
        (http.post("/api/v1/verify", json={"path": ".proofmind/state.sqlite"}), 400),
        (http.post("/api/v1/verify", json={"path": "a\x00b"}), 400),
        (http.get("/api/v1/records/1/lineage", params={"direction": "../x"}), 400),
        (http.get("/api/v1/fraud/scores/%2E%2E"), 400),
        (http.get("/api/v1/fraud/scores/..%5C..%5Cfraud-model.txt"), 400),
        (http.get("/api/v1/sybil/runs/%2E%2E"), 422),
        (http.get("/api/v1/sybil/runs/abc123"), 404),
        (
            http.post(
                "/api/v1/sybil/runs",
                json={"edges": ["../../etc/passwd"], "candidates": "c.csv"},
                headers=auth,
            ),
            400,
        ),
        (
            http.post(
                "/api/v1/sybil/runs",
                json={"edges": ["e.csv"], "candidates": "c.csv", "out": "/tmp/x"},
                headers=auth,
            ),
            400,
        ),
        (http.get("/api/v1/oracle/models", params={"cursor": "bm90LWEtY3Vyc29y"}), 400),
        (http.get("/api/v1/contracts", params={"cursor": "bm90LWEtY3Vyc29y"}), 400),
        (http.post("/api/v1/fraud/scores", json={"addresses": ["0x1"]}), 401),
    ]
    for n, (response, status) in enumerate(cases):
        assert response.status_code == status, (n, response.status_code, response.text)
        assert response.headers["content-type"] == PROBLEM, (n, response.headers)
        doc = response.json()
        assert doc["status"] == status and doc["detail"] and doc["type"].startswith("https://")
    assert snapshot(ws) == before
    with pytest.raises(ApiError) as err:
        api.record(999)
    assert err.value.status == 404
    assert str(err.value) == (
        "no record for '999' in this workspace — `proofmind provenance list` "
        "(or GET /api/v1/records) shows them"
    )


def test_streamed_body_over_the_limit(ws: Workspace, make_api: MakeApi) -> None:
    _, http = make_api(max_body_bytes=2048)

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b'{"path": "' + b"a" * 500

    response = http.post(
        "/api/v1/verify", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413, response.text


def test_reads_can_require_a_key_and_are_rate_limited(ws: Workspace, make_api: MakeApi) -> None:
    _, token = create_key(ws.state, "reader")
    _, http = make_api(public_reads=False, rate_per_second=0.5, rate_burst=3)
    assert http.get("/api/v1/records").status_code == 401
    auth = {"Authorization": f"Bearer {token}"}
    codes = [http.get("/api/v1/records", headers=auth).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = http.get("/api/v1/records", headers=auth)
    assert int(limited.headers["retry-after"]) >= 1
    assert "too many requests from API key pmk_" in limited.json()["detail"]
    assert http.get("/health").status_code == 200  # health and metrics stay open


def test_cors_is_configurable(ws: Workspace, make_api: MakeApi) -> None:
    _, closed = make_api()
    assert (
        "access-control-allow-origin"
        not in closed.get("/api/v1/records", headers={"Origin": "https://dash.example"}).headers
    )
    _, open_ = make_api(cors_origins=["https://dash.example"])
    preflight = open_.options(
        "/api/v1/oracle/requests",
        headers={
            "Origin": "https://dash.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://dash.example"
    got = open_.get("/api/v1/records", headers={"Origin": "https://dash.example"})
    assert got.headers["access-control-allow-origin"] == "https://dash.example"
    assert "ETag" in got.headers["access-control-expose-headers"]


def test_openapi_and_metrics(ws: Workspace, make_api: MakeApi) -> None:
    _, http = make_api()
    docs = http.get("/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text.lower()
    for asset in re.findall(r'(?:src|href)="(/docs-assets/[^"]+)"', docs.text):
        assert http.get(asset).status_code == 200, asset  # served here, offline
    assert http.get("/redoc").status_code == 200
    paths = http.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/records/{ref}/lineage",
        "/api/v1/verify",
        "/api/v1/alerts/stream",
        "/api/v1/oracle/requests",
        "/api/v1/rewards/epochs",
        "/api/v1/rewards/epochs/{epoch}/claims/{account}",
        "/api/v1/fraud/scores/{address}",
        "/api/v1/agents/safes/{safe}/pause",
        "/api/v1/sybil/runs",
    ):
        assert path in paths
    http.get("/api/v1/records/77")
    text = http.get("/metrics").text
    assert (
        'proofmind_api_requests_total{method="GET",route="/api/v1/records/{ref}",status="404"} 1.0'
        in text
    )


def test_chain_backed_reads_say_what_is_missing(lineage: Lineage, make_api: MakeApi) -> None:
    api, http = make_api()
    assert api.oracle_models() == {"items": [], "next_cursor": None}
    assert api.oracle_requests() == {"items": [], "next_cursor": None}
    not_deployed = http.get("/api/v1/oracle/requests/5")
    assert not_deployed.status_code == 404
    assert "InferenceOracle is not deployed" in not_deployed.json()["detail"]
    assert http.get("/api/v1/rewards/epochs").status_code == 404
