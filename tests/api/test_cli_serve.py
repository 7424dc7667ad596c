"""`proofmind api-key` from the command line, and lists that stay fast at scale."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from proofmind.app.apikeys import check_key
from proofmind.cli.main import main
from proofmind.monitor.api import Alert
from proofmind.monitor.store import AlertStore
from proofmind.workspace import Workspace

from .conftest import MakeApi


def test_api_key_create_list_revoke(ws: Workspace, capfd: pytest.CaptureFixture[str]) -> None:
    where = ["-w", str(ws.root)]
    assert main(["api-key", "create", "dashboard", *where]) == 0
    out, err = capfd.readouterr()
    token = out.strip()
    assert token.startswith("pmk_") and "shown only now" in err
    assert check_key(ws.state, token) is not None
    assert main(["api-key", "list", *where]) == 0
    listed = capfd.readouterr().out
    assert "dashboard" in listed and token[:12] in listed and token not in listed
    assert "active" in listed
    assert main(["api-key", "revoke", token[:12], *where]) == 0
    assert "revoked" in capfd.readouterr().out
    assert check_key(ws.state, token) is None
    assert main(["api-key", "list", *where]) == 0
    assert "revoked 20" in capfd.readouterr().out


def test_deep_pages_of_100000_alerts_and_10000_records(ws: Workspace, make_api: MakeApi) -> None:
    store = AlertStore.for_workspace(ws.root)
    batch = [
        (Alert("watch", "high", f"0x{n % 997:040x}", 1.7e9 + n, 1.0, "x", {}, n, "t"), None)
        for n in range(100_000)
    ]
    store.add_many(batch)
    with ws.state.transaction() as conn:
        conn.executemany(
            "INSERT INTO records(key, kind, name, content_hash, uri, parents, path, status,"
            " created_at) VALUES (?, ?, ?, ?, '', '[]', ?, 'pending', 0)",
            [(k, k % 4, f"r{k}", f"0x{k:064x}", str(Path(ws.root.parent, f"r{k}"))) for k in
             range(1, 10_001)],
        )  # fmt: skip
    _, http = make_api()
    timings = {}
    for url in (
        "/api/v1/alerts?limit=100",
        "/api/v1/alerts?limit=100&subject=0x" + "0" * 37 + "3e5",
        "/api/v1/records?limit=100",
        "/api/v1/models?limit=100",
    ):
        page = http.get(url).json()
        for _ in range(30):  # follow the cursor 30 pages deep
            if page["next_cursor"] is None:
                break
            started = time.perf_counter()
            response = http.get(url + f"&cursor={page['next_cursor']}")
            timings[url] = max(timings.get(url, 0.0), time.perf_counter() - started)
            assert response.status_code == 200
            page = response.json()
            assert len(page["items"]) == 100 or page["next_cursor"] is None
    assert max(timings.values()) < 1.0, timings  # the dashboard's budget for a whole page
    first = http.get("/api/v1/alerts?limit=1").json()
    assert first["total"] == 100_000 and first["items"][0]["id"] == 100_000
    store.close()


def test_a_port_in_use_is_refused_in_one_line(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    """`serve --port` and `monitor run --http-port` on a port another process listens on:
    one line naming the option and the address, exit 2, before any work (uvicorn used to
    exit with two tracebacks)."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "-w", str(ws.root)]) == 2
        said = capsys.readouterr().err
        assert f"--port: cannot listen on 127.0.0.1:{port}" in said, said
        assert "another process listens there" in said and "Traceback" not in said
        watch = '{"watch": {"addresses": ["0x00000000000000000000000000000000000000aa"]}}'
        run = ["monitor", "run", "--params", watch, "--http-port", str(port), "-w", str(ws.root)]
        assert main(run) == 2
        assert f"--http-port: cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    assert AlertStore.existing(ws.root) is None  # nothing made
