"""An agent casts the treasury Safe's vote in a Governor from a forecast, through the guard."""

from __future__ import annotations

from pathlib import Path

import pytest

from proofmind.agents.guard import create_guarded_safe
from proofmind.agents.log import DecisionLog
from proofmind.agents.policy import load_policy
from proofmind.agents.runtime import AgentRuntime
from proofmind.agents.safe import owners_exec, safe_at
from proofmind.agents.tools import AgentTools
from proofmind.agents.vote import ABSTAIN, AGAINST, FOR, support_for, vote_from_forecast
from proofmind.chain.base import Chain
from proofmind.chain.contracts import DeploymentRegistry
from proofmind.errors import InputError
from proofmind.gov.onchain import deploy_governance
from proofmind.monitor.store import AlertStore
from proofmind.store.state import StateDB

TOKEN = 10**18


def advance(chain: Chain, seconds: int) -> None:
    chain.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    chain.mine()


def test_support_from_a_forecast() -> None:
    assert [support_for(p) for p in (0.9, 0.6, 0.55, 0.41, 0.1)] == [
        FOR,
        FOR,
        ABSTAIN,
        ABSTAIN,
        AGAINST,
    ]
    with pytest.raises(InputError, match="not a probability"):
        support_for(1.2)


def test_the_agent_votes_through_the_guard(chain: Chain, tmp_path: Path) -> None:
    owners = chain.accounts[1:4]
    registry = DeploymentRegistry(StateDB(tmp_path / "state.sqlite"))
    safe, guard = create_guarded_safe(chain, registry, owners, 2, delay=3600, salt=11)
    whale = chain.accounts[7]
    g = deploy_governance(chain, {whale: 600 * TOKEN}, voting_period=3600)
    chain.sender().transact(g.token.functions.mint(safe, 400 * TOKEN))
    delegate = g.token.functions.delegate(safe)._encode_transaction_data()
    owners_exec(chain, safe_at(chain, safe), owners, g.token.address, delegate)
    advance(chain, 2)
    pay = bytes.fromhex(g.token.encode_abi("transfer", args=[whale.address, TOKEN])[2:])
    proposal = g.propose(whale, [g.token.address], [0], [pay], "# Pay\n\nOne token.")
    advance(chain, 2)

    policy_path = tmp_path / "voter.toml"
    policy_path.write_text(
        f"""
name = "voter"
agent = 4
expires_in = "1d"
[[scope]]
target = "{g.governor.address}"
function = "castVoteWithReason(uint256,uint8,string)"
"""
    )
    policy = load_policy(policy_path)
    guard.grant(owners, policy, chain.accounts[4].address)
    runtime = AgentRuntime(
        guard,
        chain.accounts[4],
        policy,
        AlertStore(tmp_path / "alerts.sqlite"),
        DecisionLog(tmp_path / "decisions.sqlite"),
    )
    tools = AgentTools(runtime)
    voted = vote_from_forecast(tools, g.governor.address, proposal, 0.82, forecast="0xf0")
    assert voted["status"] == "executed", voted
    assert g.governor.functions.hasVoted(proposal, safe).call()
    against, in_favour, abstain = g.governor.functions.proposalVotes(proposal).call()
    assert (against, in_favour, abstain) == (0, 400 * TOKEN, 0)
    record = runtime.log.get(voted["decision_id"])
    assert record is not None and "P(pass) = 0.820" in record.record["explanation"]
    # the agent cannot vote twice, nor use a Governor function its policy does not scope
    again = vote_from_forecast(tools, g.governor.address, proposal, 0.1)
    assert again["status"] == "refused"
    other = tools.propose_action(
        g.governor.address, "castVote(uint256,uint8)", [str(proposal), "0"]
    )
    assert other["error"] == "TargetNotAllowed"
