"""Agent policies through the API: the keyed writes of `proofmind agent policy` (grant,
revoke, pause, unpause) and its reads (list, show), on a guarded Safe on the devnet; every
refused request leaves the guard as it was."""

from __future__ import annotations

from typing import Any

import pytest

from proofmind.agents.guard import Guard, create_guarded_safe
from proofmind.agents.log import DecisionLog
from proofmind.app.apikeys import create_key
from proofmind.chain.base import Chain
from proofmind.chain.contracts import DeploymentRegistry, deploy
from proofmind.client import ApiError
from proofmind.workspace import Workspace

from .conftest import MakeApi

pytestmark = pytest.mark.devnet

POLICY = """
name = "api-guard"
agent = 4
expires_in = "1d"
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
"""


@pytest.fixture
def guard(ws: Workspace, chain: Chain) -> Guard:
    """Guarded Safe "treasury" (owners 1, 2, 3; 2 signatures) and a policy file for agent 4
    at policies/guard.toml in the project folder."""
    owners = [chain.accounts[i] for i in (1, 2, 3)]
    safe, made = create_guarded_safe(
        chain, DeploymentRegistry(ws.state), owners, 2, delay=600, salt=7
    )
    log = DecisionLog.for_workspace(ws.root)
    log.add_agent("treasury", chain.chain_id, safe, made.address)
    log.close()
    token, _ = deploy(chain, "RewardToken", "Test USD", "TUSD", chain.accounts[0].address)
    folder = ws.root.parent / "policies"
    folder.mkdir()
    text = POLICY.format(reserve=chain.accounts[5].address, token=token.address)
    (folder / "guard.toml").write_text(text)
    return made


def _post(http: Any, path: str, token: str | None, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return http.post("/api/v1/agents/safes" + path, headers=headers, **kwargs)


def test_grant_show_pause_revoke(
    ws: Workspace, chain: Chain, guard: Guard, make_api: MakeApi
) -> None:
    _, token = create_key(ws.state, "operator")
    api, _ = make_api(api_key=token)
    agent = chain.accounts[4].address
    assert api.agent_policies("treasury") == {"items": [], "next_cursor": None}
    granted = api.grant_policy("treasury", "policies/guard.toml")
    assert granted["agent"] == agent and granted["active"] is True
    assert granted["policy_id"] == guard.grant_of(agent)["policy_id"]
    assert api.agent_policy("treasury", 4) == api.agent_policy("treasury", agent.lower())
    (listed,) = api.agent_policies("treasury")["items"]
    assert listed["agent"] == agent and listed["guard"] == guard.address
    assert listed["safe"] == guard.safe

    paused = api.pause_guard("treasury")
    assert paused["paused"] is True and guard.grant_of(agent)["paused"] is True
    assert api.agent_policy("treasury", 4)["paused"] is True
    assert api.unpause_guard("treasury")["paused"] is False
    with pytest.raises(ApiError) as not_guardian:  # account 6 is no guardian of this guard
        api.pause_guard("treasury", guardian=6)
    assert not_guardian.value.status == 409 and guard.grant_of(agent)["paused"] is False

    revoked = api.revoke_policy("treasury", 4)
    assert revoked["active"] is False and guard.grant_of(agent)["active"] is False
    with pytest.raises(ApiError) as again:
        api.revoke_policy("treasury", 4)
    assert again.value.status == 400
    assert str(again.value) == f"{agent} holds no grant on guard {guard.address}"
    assert api.agent_policies("treasury")["items"][0]["active"] is False  # ever granted


def test_refused_writes_change_nothing(
    ws: Workspace, chain: Chain, guard: Guard, make_api: MakeApi
) -> None:
    _, token = create_key(ws.state, "operator")
    _, http = make_api()
    agent = chain.accounts[4].address
    assert _post(http, "/treasury/pause", None, json={}).status_code == 401
    assert _post(http, "/treasury/pause", "pmk_wrong", json={}).status_code == 401
    grant = {"json": {"policy": "policies/guard.toml"}}
    assert _post(http, "/treasury/policies", None, **grant).status_code == 401
    malformed = http.post(
        "/api/v1/agents/safes/treasury/policies",
        content=b'{"policy": ',
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    assert malformed.status_code == 400 and malformed.json()["type"].endswith("malformed-json")
    form = _post(http, "/treasury/pause", token, data={"owners": "1"})
    assert form.status_code == 415
    outside = _post(http, "/treasury/policies", token, json={"policy": "../guard.toml"})
    assert outside.status_code == 400 and "leads outside the project folder" in outside.text
    unknown = _post(http, "/vault/pause", token, json={})
    assert unknown.status_code == 404
    assert unknown.json()["detail"].startswith("no guarded Safe named 'vault' in this workspace")
    assert http.get("/api/v1/agents/safes/vault/policies").status_code == 404
    extra = _post(http, "/treasury/pause", token, json={"owners": [1], "force": True})
    assert extra.status_code == 422
    bad_agent = http.get("/api/v1/agents/safes/treasury/policies/0x12zz")
    assert bad_agent.status_code == 400 and "is not an address" in bad_agent.json()["detail"]
    state = guard.grant_of(agent)
    assert state["active"] is False and state["paused"] is False  # nothing was written
