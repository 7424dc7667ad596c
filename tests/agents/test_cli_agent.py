"""The `agent` commands end to end on a workspace's own devnet: create a guarded Safe, grant a
policy, run the agent on a stored alert, inspect, veto, pause, renew, revoke, verify."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from proofmind.chain.contracts import deploy
from proofmind.chain.devnet import Devnet
from proofmind.cli.main import main
from proofmind.monitor.api import Alert
from proofmind.monitor.store import AlertStore
from proofmind.settings import DevnetSettings
from proofmind.workspace import init_workspace
from tests.locks import refused_second

pytestmark = pytest.mark.devnet

POLICY = """
name = "cli-guard"
agent = 4
expires_in = "1d"
guardians = ["{guardian}"]
recipients = ["{reserve}"]
[[scope]]
target = "{token}"
function = "transfer(address,uint256)"
recipient_arg = 0
amount_arg = 1
[[cap]]
token = "{token}"
limit = "1000e18"
window = "1d"
timelock_above = "400e18"
[[rule]]
detector = "depeg"
[rule.action]
target = "{token}"
function = "transfer(address,uint256)"
args = ["{reserve}", "{amount}"]
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(list(args))
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def test_agent_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws, _ = init_workspace(tmp_path)
    w = ["-w", str(tmp_path)]
    try:
        chain = ws.connect()
        token, _ = deploy(chain, "RewardToken", "Test USD", "TUSD", chain.accounts[0].address)
        out = run(capsys, "agent", "safe", "create", "--name", "t", *w,
                  "--owner", "1", "--owner", "2", "--owner", "3", "--delay", "10m")  # fmt: skip
        safe = out.split()[1]
        chain.sender().transact(token.functions.mint(safe, 10**24))
        assert "t: Safe" in run(capsys, "agent", "safe", "list", *w)
        fields = {
            "guardian": chain.accounts[6].address,
            "reserve": chain.accounts[5].address,
            "token": token.address,
        }
        small = tmp_path / "small.toml"
        small.write_text(POLICY.format(amount="100e18", **fields))
        large = tmp_path / "large.toml"
        large.write_text(POLICY.format(amount="500e18", **fields).replace("cli-guard", "big"))
        assert "granted cli-guard" in run(capsys, "agent", "policy", "grant", str(small),
                                          "--safe", "t", *w)  # fmt: skip
        store = AlertStore.for_workspace(ws.root)
        store.add(Alert("depeg", "high", "USDC", 1.0, 0.05, "USDC off its peg", kind="depeg"))
        assert "executed 1" in run(capsys, "agent", "run", str(small), "--safe", "t", "--once",
                                   "--since", "start", *w)  # fmt: skip
        decisions = json.loads(run(capsys, "agent", "decisions", "--json", *w))
        assert [d["status"] for d in decisions] == ["executed"]
        assert decisions[0]["anchor"]  # anchored in the ledger by `run --once`
        assert "OK: decision" in run(capsys, "verify", decisions[0]["tx_hash"], *w)

        # a large move is queued; the guardian vetoes it
        run(capsys, "agent", "policy", "grant", str(large), "--safe", "t", *w)
        # a new policy starts from the alerts stored from its first run on
        assert "decided 0" in run(capsys, "agent", "run", str(large), "--safe", "t", "--once", *w)
        store.add(Alert("depeg", "high", "USDC", 2.0, 0.05, "USDC off its peg again", kind="depeg"))
        assert "queued 1" in run(capsys, "agent", "run", str(large), "--safe", "t", "--once", *w)
        queued = json.loads(run(capsys, "agent", "queue", "--safe", "t", "--json", *w))
        assert [q["on_chain"] for q in queued] == ["Queued"]
        run(capsys, "agent", "veto", queued[0]["action_id"], "--safe", "t", "--guardian", "6", *w)
        queued = json.loads(run(capsys, "agent", "queue", "--safe", "t", "--json", *w))
        assert [q["on_chain"] for q in queued] == ["Vetoed"]
        # another is queued, then its alert is retracted (a reorg): withdrawn, in the guard too
        store.add(Alert("depeg", "high", "DAI", 3.0, 0.05, "DAI off its peg", kind="depeg",
                        block=10**6))  # fmt: skip
        assert "queued 1" in run(capsys, "agent", "run", str(large), "--safe", "t", "--once", *w)
        store.retract_from_block(10**6)
        assert "withdrawn 1" in run(capsys, "agent", "run", str(large), "--safe", "t", "--once",
                                    *w)  # fmt: skip
        queued = json.loads(run(capsys, "agent", "queue", "--safe", "t", "--json", *w))
        assert [q["on_chain"] for q in queued] == ["Withdrawn", "Vetoed"]
        listed = run(capsys, "agent", "decisions", "--status", "withdrawn", *w)
        assert "its alert was retracted (reorg); queued action withdrawn in 0x" in listed

        # pause (guardian), unpause (owners), renew, revoke by the agent itself
        run(capsys, "agent", "policy", "pause", "--safe", "t", "--guardian", "6", *w)
        shown = json.loads(run(capsys, "agent", "policy", "show", "--safe", "t", "--agent", "4",
                               "--json", *w))  # fmt: skip
        assert shown["paused"] is True and shown["active"] is True
        run(capsys, "agent", "policy", "unpause", "--safe", "t", *w)
        run(capsys, "agent", "policy", "renew", "--safe", "t", "--agent", "4",
            "--expires-in", "2d", *w)  # fmt: skip
        renewed = json.loads(run(capsys, "agent", "policy", "show", "--safe", "t", "--agent", "4",
                                 "--json", *w))  # fmt: skip
        assert renewed["expiry"] > shown["expiry"] and renewed["paused"] is False
        run(capsys, "agent", "policy", "revoke", "--safe", "t", "--agent", "4", "--by-agent", *w)
        shown = json.loads(run(capsys, "agent", "policy", "show", "--safe", "t", "--agent", "4",
                               "--json", *w))  # fmt: skip
        assert shown["active"] is False
        code = main(["agent", "run", str(large), "--safe", "t", "--once", *w])
        assert code == 2 and "holds no grant" in capsys.readouterr().err
        store.close()
    finally:
        ws.close()
        Devnet(tmp_path / ".proofmind" / "chain", DevnetSettings()).down()


def test_an_agent_hosted_as_a_serve_task(tmp_path: Path) -> None:
    """`proofmind serve --agent POLICY --safe t`: the agent runs as a supervised task, shows in
    /health, acts on a stored alert, and the shutdown event ends it promptly."""
    import asyncio

    from proofmind.agents.log import DecisionLog
    from proofmind.app.agents import guard_of
    from proofmind.app.hosting import agent_service, run_loop
    from proofmind.app.runner import Supervisor

    ws, _ = init_workspace(tmp_path)
    w = ["-w", str(tmp_path)]
    try:
        chain = ws.connect()
        token, _ = deploy(chain, "RewardToken", "Test USD", "TUSD", chain.accounts[0].address)
        assert main(["agent", "safe", "create", "--name", "t", *w, "--owner", "1", "--owner",
                     "2", "--owner", "3", "--delay", "10m"]) == 0  # fmt: skip
        log = DecisionLog.existing(ws.root)
        assert log is not None
        fields = {
            "guardian": chain.accounts[6].address,
            "reserve": chain.accounts[5].address,
            "token": token.address,
        }
        policy = tmp_path / "small.toml"
        policy.write_text(POLICY.format(amount="100e18", **fields))
        assert main(["agent", "policy", "grant", str(policy), "--safe", "t", *w]) == 0
        chain.sender().transact(token.functions.mint(guard_of(chain, log, "t").safe, 10**24))
        store = AlertStore.for_workspace(ws.root)
        supervisor = Supervisor(backoff=0.1)
        supervisor.add(
            "agent-cli-guard",
            agent_service(ws, policy, "t", interval=0.1, since="start", connect=lambda: chain),
        )
        reserve = chain.accounts[5].address
        stopped_in: list[float] = []

        async def serve_until_executed() -> None:
            shutdown = asyncio.Event()
            runner = asyncio.create_task(supervisor.run(shutdown))
            await asyncio.sleep(0.5)
            store.add(Alert("depeg", "high", "USDC", 1.0, 0.05, "USDC off its peg", kind="depeg"))
            deadline = time.monotonic() + 30
            while int(token.functions.balanceOf(reserve).call()) != 100 * 10**18:
                assert time.monotonic() < deadline, supervisor.health()
                await asyncio.sleep(0.1)
            health = supervisor.health()
            assert health["status"] == "ok"
            assert health["tasks"]["agent-cli-guard"]["state"] == "running"
            shutdown.set()
            begun = time.monotonic()
            await asyncio.wait_for(runner, 10)
            stopped_in.append(time.monotonic() - begun)

        run_loop(serve_until_executed)
        assert supervisor.status["agent-cli-guard"].restarts == 0
        assert supervisor.status["agent-cli-guard"].state == "stopped"
        assert stopped_in[0] < 3  # the agent's loop ends on the shutdown event
        assert log.counts("cli-guard") == {"executed": 1}

        # `agent run` runs the same loop under the same signal handling: SIGTERM ends it at once
        agent = subprocess.Popen(
            [sys.executable, "-m", "proofmind", "agent", "run", str(policy), "--safe", "t",
             "--interval", "0.2", *w],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert agent.stdout is not None
        assert "running cli-guard" in agent.stdout.readline()
        # a second run of the same policy would act on the same decisions: refused, named
        refused_second(
            ["agent", "run", str(policy), "--safe", "t", "--once", *w],
            agent.pid,
            "running policy cli-guard",
        )
        agent.send_signal(signal.SIGTERM)
        begun = time.monotonic()
        out, errors = agent.communicate(timeout=20)
        assert agent.returncode == 0, errors
        assert time.monotonic() - begun < 10
        assert "stopped; decisions: {'executed': 1}" in out

        # and `proofmind serve --agent`: /health lists the agent's task; SIGTERM ends it all
        serve = subprocess.Popen(
            [sys.executable, "-m", "proofmind", "serve", "--port", "0", "--agent", str(policy),
             "--safe", "t", *w],
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert serve.stderr is not None
        line = serve.stderr.readline()
        while line and "proofmind API on" not in line:
            line = serve.stderr.readline()
        url = line.split("proofmind API on ")[1].split()[0]
        deadline = time.monotonic() + 20
        while True:
            with urllib.request.urlopen(url + "/health") as response:
                tasks = json.loads(response.read())["tasks"]
            if tasks.get("agent-cli-guard", {}).get("state") == "running":
                break
            assert time.monotonic() < deadline, tasks
            time.sleep(0.2)
        assert set(tasks) == {"api", "agent-cli-guard"}
        serve.send_signal(signal.SIGTERM)
        _, errors = serve.communicate(timeout=20)
        assert serve.returncode == 0, errors
        assert "agent-cli-guard stopped" in errors
        store.close()
        log.close()
    finally:
        ws.close()
        Devnet(tmp_path / ".proofmind" / "chain", DevnetSettings()).down()
