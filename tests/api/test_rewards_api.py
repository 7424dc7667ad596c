"""Reward epochs through the API: what `proofmind rewards status` shows, as JSON."""

from __future__ import annotations

import pytest

from proofmind.chain.base import Chain
from proofmind.chain.contracts import DeploymentRegistry, deploy
from proofmind.client import ApiError
from proofmind.ownership.rewards import RewardsClient, payout_tree, payouts
from proofmind.workspace import Workspace

from .conftest import MakeApi

pytestmark = pytest.mark.devnet


def test_epochs(ws: Workspace, chain: Chain, make_api: MakeApi) -> None:
    owner = chain.sender().address
    registry = DeploymentRegistry(ws.state)
    token, _ = deploy(chain, "RewardToken", "Data Reward", "DATA", owner, registry=registry)
    distributor, _ = deploy(chain, "RewardDistributor", token.address, owner, registry=registry)
    chain.sender().transact(token.functions.mint(owner, 10**21))
    accounts = [a.address for a in chain.accounts[1:3]]
    tree = payout_tree(payouts(list(zip(accounts, [0.75, 0.25], strict=True)), 4 * 10**18))
    client = RewardsClient(chain, distributor, token)
    deadline = chain.w3.eth.get_block("latest")["timestamp"] + 3600
    epoch, _ = client.publish(tree, 4 * 10**18, deadline, b"\x22" * 32)
    client.claim(epoch, tree, accounts[0])
    api, _ = make_api()
    (listed,) = api.reward_epochs()
    assert listed == api.reward_epoch(epoch)
    assert listed["funded"] == str(4 * 10**18) and listed["claimed"] == str(3 * 10**18)
    assert listed["root"] == tree.root_hex and listed["valuation"] == "0x" + "22" * 32
    assert listed["deadline"] == deadline and listed["swept"] is False
    with pytest.raises(ApiError) as missing:
        api.reward_epoch(epoch + 1)
    assert missing.value.status == 404 and "UnknownEpoch" in str(missing.value)
