"""The node's request list as the API and dashboard read it: each request names the package the
node serves under its model id, and a queue written before the node kept names still reads."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from proofmind.app.oracle import NODE_DB, list_requests
from proofmind.cli.main import main
from proofmind.oracle.node import RequestQueue
from proofmind.store.state import StateDB
from proofmind.workspace import init_workspace

SERVED, OTHER = "0x" + "ab" * 32, "0x" + "cd" * 32


def _queued(db: Path) -> None:
    queue = RequestQueue(StateDB(db))
    queue.add([(n, model, 1, json.dumps([n]), 10 + n, 100 + n, 1.7e9) for n, model in
               ((1, SERVED), (2, OTHER))])  # fmt: skip
    queue.name_models({SERVED: "fraud-mlp"})
    queue.name_models({SERVED: "fraud-mlp-v2"})  # served again under a new package name
    queue.state.close()


def test_requests_name_their_model(tmp_path: Path) -> None:
    ws, _ = init_workspace(tmp_path / "ws")
    _queued(ws.root / NODE_DB)
    items = list_requests(ws).items
    assert [(r["request_id"], r["model_id"], r["model_name"]) for r in items] == [
        (2, OTHER, None),  # no longer served by this node: its id only
        (1, SERVED, "fraud-mlp-v2"),
    ]
    assert [r["request_id"] for r in list_requests(ws, state="new", limit=1).items] == [2]


def test_queue_written_before_names_still_reads(tmp_path: Path) -> None:
    ws, _ = init_workspace(tmp_path / "ws")
    _queued(ws.root / NODE_DB)
    conn = sqlite3.connect(ws.root / NODE_DB)
    conn.execute("DROP TABLE oracle_models")  # as an older node left it
    conn.commit()
    conn.close()
    items = list_requests(ws).items
    assert [(r["request_id"], r["model_name"]) for r in items] == [(2, None), (1, None)]


def test_oracle_requests_lists_the_queue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws, _ = init_workspace(tmp_path / "ws")
    workspace = ["-w", str(ws.root)]
    assert main(["oracle", "requests", *workspace]) == 0  # no node ran here yet
    assert "No requests in this workspace's oracle node queue" in capsys.readouterr().err
    _queued(ws.root / NODE_DB)
    queue = RequestQueue(StateDB(ws.root / NODE_DB))
    queue.set_state(1, "done", output=json.dumps({"output": [7, 8], "proof": "ab" * 500}))
    queue.set_state(2, "failed", error="the prover ran out of memory", attempts=3)
    queue.state.close()
    assert main(["oracle", "requests", *workspace]) == 0
    table = capsys.readouterr().out
    assert "2 requests, newest first" in table and "fraud-mlp-v2" in table
    assert "[7, 8]" in table and "abab" not in table  # the values, not the proof
    assert "the prover ran out of memory" in table
    assert main(["oracle", "requests", "--state", "failed", "--json", *workspace]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["request_id"] == 2 and json.loads(line)["attempts"] == 3
    assert main(["oracle", "requests", "--state", "nope", *workspace]) == 2
    assert "unknown request state 'nope'" in capsys.readouterr().err
