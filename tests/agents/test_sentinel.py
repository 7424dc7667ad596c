"""The sentinel vetoes injected malicious queued actions and lets the benign ones through."""

from __future__ import annotations

import os

from proofmind.agents.guard import Call
from proofmind.agents.policy import load_policy
from proofmind.agents.runtime import AgentRuntime
from proofmind.agents.sentinel import Sentinel
from proofmind.monitor.api import Alert
from tests.agents.conftest import Treasury
from tests.agents.test_runtime import depeg


def _guarded(treasury: Treasury, rules: str, second: str) -> tuple[AgentRuntime, Sentinel]:
    """The agent granted ``rules`` with ``second`` as a recipient too, and a sentinel."""
    policy_path = treasury.policy_file(rules)
    text = policy_path.read_text().replace(
        f'recipients = ["{treasury.treasury}"]', f'recipients = ["{treasury.treasury}", "{second}"]'
    )
    policy_path.write_text(text)
    policy = load_policy(policy_path)
    treasury.guard.grant(treasury.owners, policy, treasury.agent.address)
    agent = AgentRuntime(treasury.guard, treasury.agent, policy, treasury.alerts, treasury.log)
    return agent, Sentinel(treasury.guard, treasury.guardian, treasury.log, treasury.alerts)


def test_vetoes_of_injected_actions_and_no_false_vetoes_on_benign_ones(
    treasury: Treasury,
) -> None:
    second = treasury.chain.accounts[8].address
    token = str(treasury.token.address)  # type: ignore[attr-defined]
    rules = (
        treasury.rule("100e18", subject="USDC")
        + treasury.rule("450e18", subject="DAI")
        + treasury.rule("420e18", subject="FRAX", to=second)
    )
    agent, sentinel = _guarded(treasury, rules, second)

    for _ in range(5):  # the agent's history: five small moves
        depeg(treasury, subject="USDC")
    assert agent.step().executed == 5

    # benign: the agent itself queues two larger moves it decided on
    depeg(treasury, subject="DAI")
    depeg(treasury, subject="DAI")
    assert agent.step().queued == 2
    benign = sentinel.scan()
    assert [v.vetoed for v in benign] == [False, False]

    def transfer(to: str, amount: int) -> Call:
        data = bytes.fromhex("a9059cbb") + bytes(12) + bytes.fromhex(to[2:]) + amount.to_bytes(32)
        return Call(token, 0, data)

    # 1. the agent key is stolen: an action queued with a decision nobody made
    treasury.guard.send(
        treasury.agent, transfer(treasury.treasury, 450 * 10**18), os.urandom(32), "queue"
    )
    # 2. an allowlisted counterparty is compromised: the monitor raised a critical alert on it
    treasury.alerts.add(
        Alert(
            detector="watch",
            kind="drained",
            severity="critical",
            subject=second.lower(),
            time=1_900_000_000.0,
            score=1.0,
            explanation="watched address drained",
        )
    )
    depeg(treasury, subject="FRAX")
    agent.step()
    # 3. an outsized amount queued with a stolen key under a fresh decision id
    treasury.guard.send(
        treasury.agent, transfer(treasury.treasury, 600 * 10**18), os.urandom(32), "queue"
    )
    # 4. a decision the runtime has logged but not yet sent, front-run with another call
    depeg(treasury, subject="DAI")
    agent.observe()
    pending = treasury.log.open("depeg-guard")[-1]
    assert pending.status == "decided"
    treasury.guard.send(
        treasury.agent,
        transfer(second, 450 * 10**18),
        bytes.fromhex(pending.id[2:]),
        "queue",
    )
    malicious = sentinel.scan()
    assert len(malicious) == 4
    assert all(v.vetoed for v in malicious), [v.to_dict() for v in malicious]
    reasons = [" ".join(v.reasons) for v in malicious]
    assert "unknown decision" in reasons[0]
    assert "high-severity alert" in reasons[1]
    assert "median" in reasons[2] and "unknown decision" in reasons[2]
    assert "differs from the action" in reasons[3]
    # the benign ones are still queued; nothing scanned twice
    assert sentinel.scan() == []
    for verdict in benign:
        assert treasury.guard.queued(bytes.fromhex(verdict.action_id[2:]))[1] == "Queued"


def test_a_counterparty_flagged_long_ago_is_still_vetoed(treasury: Treasury) -> None:
    """The critical alert on the counterparty is older than 10,000 other active critical
    alerts, and its subject is checksummed (as a user's detector may spell it): the action
    to it is still vetoed."""
    second = treasury.chain.accounts[8].address
    agent, sentinel = _guarded(treasury, treasury.rule("420e18", subject="FRAX", to=second), second)

    def critical(subject: str, block: int) -> Alert:
        return Alert(
            detector="watch",
            kind="drained",
            severity="critical",
            subject=subject,
            time=1_900_000_000.0 + block,
            block=block,
            score=1.0,
            explanation="watched address drained",
        )

    treasury.alerts.add(critical(second, 1))
    depeg(treasury, subject="FRAX")
    assert agent.step().queued == 1
    others = [f"0x{i:040x}" for i in range(1, 10_002)]  # raised while the action waits
    treasury.alerts.add_many((critical(a, 2 + i), None) for i, a in enumerate(others))
    (verdict,) = sentinel.scan()
    assert verdict.vetoed and f"{second} is the subject of an active" in " ".join(verdict.reasons)
