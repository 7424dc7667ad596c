"""Sybil detection as a keyed job: 202 and a status URL, then the same folder and counts as
`proofmind sybil detect`; refused requests start nothing and write nothing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from proofmind.app.apikeys import create_key
from proofmind.cli.main import main
from proofmind.workspace import Workspace
from tests.intel.test_sybil import planted

from .conftest import MakeApi


@pytest.fixture
def inputs(ws: Workspace) -> tuple[Path, set[str]]:
    project = ws.root.parent
    (project / "graph").mkdir()
    edges, candidates, farm = planted(project / "graph")
    (project / "graph" / "candidates.csv").write_text(
        "address\n" + "".join(f"{a}\n" for a in candidates)
    )
    assert edges == project / "graph" / "edges.csv"
    return project, farm


def test_a_run_writes_what_the_cli_writes(
    ws: Workspace,
    inputs: tuple[Path, set[str]],
    make_api: MakeApi,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project, farm = inputs
    _, token = create_key(ws.state, "analyst")
    api, http = make_api(api_key=token, sybil_report=Path("reports/api"))
    job = api.start_sybil_run(["graph/edges.csv"], "graph/candidates.csv", out="reports/api")
    assert job["status"] in ("running", "done") and job["url"] == f"/api/v1/sybil/runs/{job['id']}"
    done = api.wait_sybil_run(job["id"], timeout=120)
    assert done["status"] == "done", done
    result = done["result"]
    assert result["out"] == "reports/api" and result["flagged"] == len(farm)
    assert result["clusters"] == 6 and result["candidates"] == 120
    flagged = (project / "reports" / "api" / "flagged.txt").read_text().split()
    assert set(flagged) == farm
    assert api.sybil_report()["flagged"] == len(farm)  # the report page reads the new folder

    monkeypatch.chdir(project)
    args = ["sybil", "detect", "graph/edges.csv", "--candidates", "graph/candidates.csv"]
    assert main([*args, "-o", "reports/cli"]) == 0
    assert result["merkle_root"] in capsys.readouterr().out
    for name in ("scores.csv", "report.md", "flagged.txt"):
        cli = (project / "reports" / "cli" / name).read_bytes()
        assert (project / "reports" / "api" / name).read_bytes() == cli, name

    started = http.post(
        "/api/v1/sybil/runs",
        json={"edges": ["graph/edges.csv"], "candidates": "graph/candidates.csv"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert started.status_code == 202 and started.headers["location"].endswith(started.json()["id"])
    api.wait_sybil_run(started.json()["id"], timeout=120)


def test_bad_runs_start_nothing(
    ws: Workspace, inputs: tuple[Path, set[str]], make_api: MakeApi
) -> None:
    project, _ = inputs
    _, token = create_key(ws.state, "analyst")
    _, http = make_api()
    auth = {"Authorization": f"Bearer {token}"}
    good = {"edges": ["graph/edges.csv"], "candidates": "graph/candidates.csv", "out": "new"}

    def post(body: object, headers: dict[str, str] | None = None) -> int:
        return http.post("/api/v1/sybil/runs", json=body, headers=headers or auth).status_code

    assert http.post("/api/v1/sybil/runs", json=good).status_code == 401
    assert post(good, {"Authorization": "Bearer pmk_nope"}) == 401
    assert post(good | {"edges": ["../outside.csv"]}) == 400
    assert post(good | {"candidates": "graph/missing.csv"}) == 400
    assert post(good | {"out": "/tmp/elsewhere"}) == 400
    assert post(good | {"out": ".proofmind/sybil"}) == 400
    assert post(good | {"out": "graph/edges.csv"}) == 400  # a file
    assert post(good | {"min_cluster": 0}) == 422
    assert post(good | {"surprise": 1}) == 422
    malformed = http.post(
        "/api/v1/sybil/runs",
        content=b'{"edges": [',
        headers=auth | {"Content-Type": "application/json"},
    )
    assert malformed.status_code == 400 and malformed.json()["type"].endswith("malformed-json")
    assert not (project / "new").exists() and not (project / "sybil").exists()
    assert http.get("/api/v1/sybil/runs/0123abcd").status_code == 404
    assert http.get("/api/v1/sybil/runs/..%2F..").status_code in (404, 422)

    # a run that fails once started (the candidates are not a candidates file) says why
    (project / "graph" / "bad.csv").write_text("who\nnobody\n")
    failed = http.post(
        "/api/v1/sybil/runs", json=good | {"candidates": "graph/bad.csv"}, headers=auth
    ).json()
    deadline = time.monotonic() + 60
    while (job := http.get(failed["url"]).json())["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert job["status"] == "failed" and job["error"]["status"] == 400
    assert "bad.csv" in job["error"]["detail"]
