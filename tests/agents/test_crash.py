"""Exactly once across SIGKILLs: 100 decisions, the agent process killed at least 3 times while
it works; afterwards every intended action executed once and every decision is recorded once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from proofmind.agents.log import DecisionLog
from proofmind.agents.policy import load_policy
from proofmind.agents.runtime import AgentRuntime
from tests.agents.conftest import E18, Treasury
from tests.agents.test_runtime import depeg

REPO = Path(__file__).resolve().parents[2]
N = 100


def _executed(path: Path) -> int:
    log = DecisionLog(path)
    try:
        return log.counts().get("executed", 0)
    finally:
        log.close()


def _worker(treasury: Treasury, policy: Path) -> subprocess.Popen[bytes]:
    url = str(treasury.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    args = [
        sys.executable,
        "-m",
        "tests.agents.agent_worker",
        url,
        treasury.guard.address,
        str(policy),
        str(treasury.alerts.path),
        str(treasury.log.path),
    ]
    process = subprocess.Popen(args, cwd=REPO, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdin is not None
    process.stdin.write(treasury.agent.key.hex().encode() + b"\n")
    process.stdin.close()
    return process


def test_a_hundred_decisions_survive_three_sigkills_exactly_once(treasury: Treasury) -> None:
    policy_path = treasury.policy_file(treasury.rule("1e18"))
    policy = load_policy(policy_path)
    treasury.guard.grant(treasury.owners, policy, treasury.agent.address)
    for _ in range(N):
        depeg(treasury)
    start_block = treasury.chain.w3.eth.block_number

    kills = 0
    while kills < 3:
        before = _executed(treasury.log.path)
        process = _worker(treasury, policy_path)
        deadline = time.monotonic() + 60
        # kill it in the middle of its work: after it has executed a few more actions
        while _executed(treasury.log.path) < before + 7 and time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            time.sleep(0.005)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        kills += 1
        assert _executed(treasury.log.path) < N, "the kills must land while work remains"

    # a last run (in-process) finishes what is left
    runtime = AgentRuntime(
        treasury.guard, treasury.agent, policy, treasury.alerts, DecisionLog(treasury.log.path)
    )
    for _ in range(50):
        runtime.step()
        if not runtime.log.open(policy.name):
            break
    decisions = runtime.log.query(limit=1000)
    assert len(decisions) == N
    assert {d.status for d in decisions} == {"executed"}
    assert len({d.tx_hash for d in decisions}) == N
    assert treasury.balance(treasury.treasury) == N * E18

    logs = treasury.guard.contract.events.ActionExecuted().get_logs(from_block=start_block)
    assert len(logs) == N
    assert {"0x" + log["args"]["decisionId"].hex() for log in logs} == {d.id for d in decisions}
