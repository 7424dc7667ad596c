"""The oracle through the API: a packaged, registered model is listed; a keyed POST sends a
request on chain (as `proofmind oracle request` does) and its status reads back pending."""

from __future__ import annotations

import asyncio
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from proofmind.app.apikeys import create_key
from proofmind.app.hosting import oracle_service, run_loop, watcher_service
from proofmind.app.oracle_service import package_model, register
from proofmind.app.runner import Supervisor
from proofmind.chain.base import Chain
from proofmind.client import ApiError
from proofmind.ml.onnx_models import reference_mlp
from proofmind.oracle.client import Mode, OracleClient, Terms
from proofmind.workspace import Workspace

from .conftest import MakeApi

pytestmark = pytest.mark.devnet


def test_models_requests_and_status(
    ws: Workspace, chain: Chain, tmp_path: Path, make_api: MakeApi
) -> None:
    reference_mlp(tmp_path / "mlp.onnx", seed=5)
    rng = np.random.default_rng(3)
    np.savetxt(tmp_path / "cal.csv", rng.normal(0, 1, (8, 16)), delimiter=",")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the development SRS
        done = package_model(ws, chain, tmp_path / "mlp.onnx", tmp_path / "cal.csv", name="mlp")
    register(ws, chain, "mlp", Terms(Mode.OPTIMISTIC))
    _, token = create_key(ws.state, "requester")
    api, http = make_api(api_key=token)
    (model,) = api.oracle_models()["items"]
    assert model["name"] == "mlp" and model["model_id"] == "0x" + done.package.model_id.hex()
    values = [float(v) for v in rng.normal(0, 1, 16)]
    created = api.create_request("mlp", values, mode="optimistic")
    scale = created["input_scale"]
    assert created["input"] == [int(np.sign(v) * np.floor(abs(v) * 2**scale + 0.5)) for v in values]
    status = api.oracle_request(created["request_id"])
    assert status["status"] == "pending" and status["output"] is None
    assert (status["model_name"], status["mode"]) == ("mlp", "optimistic")
    assert int(status["fee"]) == Terms(Mode.OPTIMISTIC).fee
    with pytest.raises(ApiError) as unknown:
        api.oracle_request(created["request_id"] + 100)
    assert unknown.value.status == 404  # in the words of `proofmind oracle status`:
    assert str(unknown.value).startswith("the contract refused the call: UnknownRequest(")
    with pytest.raises(ApiError) as wrong:
        api.create_request("mlp", values[:3], mode="optimistic")
    assert wrong.value.status == 400
    zk_mode = http.post(
        "/api/v1/oracle/requests",
        json={"model": "mlp", "values": values, "mode": "zk"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert zk_mode.status_code == 400
    assert zk_mode.json()["detail"] == (
        "mlp is not served in zk mode — run `proofmind oracle register mlp --mode zk`"
    )
    # the node, hosted as a task the way `proofmind serve -m mlp` hosts it, answers it
    request_id = created["request_id"]
    OracleClient.open(chain, ws, deploy_missing=False).deposit(10**18)  # the node's bonds
    supervisor = Supervisor(backoff=0.1)
    supervisor.add("oracle-node", oracle_service(ws, ["mlp"], poll=0.05, connect=lambda: chain))
    # and the challenge watcher beside it, as `proofmind serve -c mlp` hosts it
    supervisor.add("oracle-watcher", watcher_service(ws, ["mlp"], poll=0.05, connect=lambda: chain))
    stopped_in: list[float] = []

    async def serve_until_proposed() -> None:
        shutdown = asyncio.Event()
        runner = asyncio.create_task(supervisor.run(shutdown))
        deadline = time.monotonic() + 30
        # proposed on-chain, and the node has recorded it in its own queue (it writes that
        # after the receipt, so under load the chain can be ahead of the node's state)
        while api.oracle_request(request_id)["status"] != "proposed" or [
            r["state"] for r in api.oracle_requests()["items"]
        ] != ["proposed"]:
            assert time.monotonic() < deadline, supervisor.health()
            await asyncio.sleep(0.2)
        health = supervisor.health()
        assert health["status"] == "ok", health
        assert {n: t["state"] for n, t in health["tasks"].items()} == {
            "oracle-node": "running",
            "oracle-watcher": "running",
        }
        metrics = supervisor.metrics_text()
        assert 'proofmind_task_up{task="oracle-watcher"} 1' in metrics
        shutdown.set()
        begun = time.monotonic()
        await asyncio.wait_for(runner, 10)
        stopped_in.append(time.monotonic() - begun)

    run_loop(serve_until_proposed)  # on the event loop `proofmind serve` runs (uvloop)
    assert supervisor.status["oracle-node"].restarts == 0
    assert supervisor.status["oracle-watcher"].restarts == 0
    assert supervisor.status["oracle-watcher"].state == "stopped"
    assert stopped_in[0] < 3  # the watcher's loop ends on the shutdown event, not a sleep
    answered = api.oracle_request(request_id)
    assert answered["output"] and answered["challenge_ends"] > 0
    assert len(answered["output_values"]) == len(answered["output"])
    queue = api.oracle_requests()["items"]
    assert [(r["request_id"], r["state"]) for r in queue] == [(request_id, "proposed")]
    assert queue[0]["model_name"] == "mlp"  # the package's name, not the oracle's model id only
    assert api.oracle_requests(state="done")["items"] == []
