"""A workspace whose lineage (dataset → run → model) is anchored on the session devnet, and
the HTTP API over it through FastAPI's test client."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from proofmind.app.provenance import track_run
from proofmind.chain.base import Chain
from proofmind.client import Client
from proofmind.provenance import Ledger, register_model
from proofmind.settings import ApiSettings
from proofmind.workspace import Workspace, init_workspace

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette now prefers httpx2 for its test client
    from fastapi.testclient import TestClient

ROWS = ["address,flag,value_wei"] + [f"0x{n:040x},{n % 2},{10**20 + n}" for n in range(1, 41)]


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace, _ = init_workspace(tmp_path)
    yield workspace
    workspace.close()


@dataclass
class Lineage:
    ws: Workspace
    chain: Chain
    data: Path
    model: Path
    keys: dict[str, int]


@pytest.fixture
def lineage(ws: Workspace, chain: Chain, tmp_path: Path) -> Lineage:
    data = tmp_path / "data" / "train.csv"
    data.parent.mkdir()
    data.write_text("\n".join(ROWS) + "\n")
    model = tmp_path / "model.bin"
    with track_run("fraud-api", datasets=[data], workspace=ws, anchor=False) as run:
        run.log_params(lr=0.1)
        model.write_bytes(bytes(range(256)) * 4)
        run.log_artifact(model)
    register_model(ws, model, run=run, card={"intended_use": "tests"}, owner=None)
    assert len(Ledger(ws).anchor(chain).anchored) == 3
    keys = {r.kind_name: r.key for r in Ledger(ws).all()}
    return Lineage(ws, chain, data, model, keys)


MakeApi = Callable[..., tuple[Client, TestClient]]


@pytest.fixture
def make_api(ws: Workspace, request: pytest.FixtureRequest) -> Iterator[MakeApi]:
    """The API over ``ws`` with settings overridden by keyword; the chain is the session
    devnet (connected only when an endpoint needs it)."""
    made: list[TestClient] = []

    def make(api_key: str | None = None, **settings: Any) -> tuple[Client, TestClient]:
        from proofmind.api import create_app

        def connect() -> Chain:
            chain: Chain = request.getfixturevalue("devnet_chain")
            return chain

        app = create_app(ws, ApiSettings(**settings), connect=connect)
        http = TestClient(app)
        http.__enter__()
        made.append(http)
        return Client(http=http, api_key=api_key), http

    yield make
    for http in made:
        http.__exit__(None, None, None)
