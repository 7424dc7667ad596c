"""Reward epochs and their claims data through the API: what `proofmind rewards status` shows
and what `proofmind rewards claim` sends, as JSON."""

from __future__ import annotations

import pytest

from proofmind.addresses import parse_address
from proofmind.chain.base import Chain
from proofmind.chain.contracts import DeploymentRegistry, deploy
from proofmind.client import ApiError
from proofmind.errors import InputError
from proofmind.ownership.rewards import EpochTrees, RewardsClient, payout_tree, payouts
from proofmind.workspace import Workspace

from .conftest import MakeApi

pytestmark = pytest.mark.devnet


def _distributor(ws: Workspace, chain: Chain) -> RewardsClient:
    owner = chain.sender().address
    registry = DeploymentRegistry(ws.state)
    token, _ = deploy(chain, "RewardToken", "Data Reward", "DATA", owner, registry=registry)
    distributor, _ = deploy(chain, "RewardDistributor", token.address, owner, registry=registry)
    chain.sender().transact(token.functions.mint(owner, 10**21))
    return RewardsClient(chain, distributor, token)


def test_epochs(ws: Workspace, chain: Chain, make_api: MakeApi) -> None:
    client = _distributor(ws, chain)
    accounts = [a.address for a in chain.accounts[1:3]]
    tree = payout_tree(payouts(list(zip(accounts, [0.75, 0.25], strict=True)), 4 * 10**18))
    deadline = chain.w3.eth.get_block("latest")["timestamp"] + 3600
    epoch, _ = client.publish(tree, 4 * 10**18, deadline, b"\x22" * 32)
    client.claim(epoch, tree, accounts[0])
    api, _ = make_api()
    (listed,) = api.reward_epochs()["items"]
    assert listed == api.reward_epoch(epoch)
    assert listed["funded"] == str(4 * 10**18) and listed["claimed"] == str(3 * 10**18)
    assert listed["root"] == tree.root_hex and listed["valuation"] == "0x" + "22" * 32
    assert listed["deadline"] == deadline and listed["swept"] is False
    with pytest.raises(ApiError) as missing:
        api.reward_epoch(epoch + 1)
    assert missing.value.status == 404 and "UnknownEpoch" in str(missing.value)


def test_epochs_are_paged(ws: Workspace, chain: Chain, make_api: MakeApi) -> None:
    client = _distributor(ws, chain)
    accounts = [a.address for a in chain.accounts[1:3]]
    deadline = chain.w3.eth.get_block("latest")["timestamp"] + 3600
    for n in range(5):
        tree = payout_tree(payouts(list(zip(accounts, [0.5, 0.5], strict=True)), 1000 + n))
        client.publish(tree, 1000 + n, deadline, bytes([n]) * 32)
    api, http = make_api()
    first = api.reward_epochs(limit=2)
    assert [e["epoch"] for e in first["items"]] == [0, 1] and first["next_cursor"]
    assert 'rel="next"' in http.get("/api/v1/rewards/epochs?limit=2").headers["link"]
    every = list(api.iter_reward_epochs(limit=2))
    assert [e["epoch"] for e in every] == [0, 1, 2, 3, 4]
    assert [e["funded"] for e in every] == [str(1000 + n) for n in range(5)]
    last = api.reward_epochs(limit=5)
    assert len(last["items"]) == 5 and last["next_cursor"] is None
    bad = http.get("/api/v1/rewards/epochs", params={"cursor": "bm90LWEtY3Vyc29y"})
    assert bad.status_code == 400 and "is not a cursor of this list" in bad.json()["detail"]


def test_claims_data_is_what_the_distributor_accepts(
    ws: Workspace, chain: Chain, make_api: MakeApi
) -> None:
    client = _distributor(ws, chain)
    accounts = [a.address for a in chain.accounts[1:5]]
    values = [0.4, 0.3, 0.2, -0.1]  # the last one's data was harmful: no payout
    tree = payout_tree(payouts(list(zip(accounts, values, strict=True)), 9 * 10**18))
    deadline = chain.w3.eth.get_block("latest")["timestamp"] + 3600
    epoch, _ = client.publish(tree, 9 * 10**18, deadline, b"\x33" * 32)
    EpochTrees(ws.root / "rewards", client.distributor).save(chain.chain_id, epoch, tree)
    client.claim(epoch, tree, accounts[0])
    api, http = make_api()

    paid = api.reward_claim(epoch, accounts[0].lower())  # any case; answered checksummed
    assert paid["account"] == accounts[0] and paid["claimed"] is True
    assert paid["amount"] == str(4 * 10**18) and paid["root"] == tree.root_hex
    assert paid["distributor"] == client.distributor.address and paid["deadline"] == deadline

    open_ = api.reward_claim(epoch, accounts[1])
    assert open_["claimed"] is False and open_["amount"] == str(3 * 10**18)
    # the answer is all a claimant needs: the distributor accepts it as it is
    proof = [bytes.fromhex(p[2:]) for p in open_["proof"]]
    call = client.distributor.functions.claim(epoch, open_["account"], int(open_["amount"]), proof)
    receipt = chain.sender().transact(call)
    assert client.paid(dict(receipt)) == 3 * 10**18
    assert api.reward_claim(epoch, accounts[1])["claimed"] is True

    page = api.reward_claims(epoch, limit=2)
    assert len(page["items"]) == 2 and page["next_cursor"] is not None
    every = list(api.iter_reward_claims(epoch, limit=2))
    assert sorted(c["account"] for c in every) == sorted(accounts[:3])
    assert {c["account"]: c["claimed"] for c in every} == {
        accounts[0]: True,
        accounts[1]: True,
        accounts[2]: False,
    }

    with pytest.raises(ApiError) as none:
        api.reward_claim(epoch, accounts[3])
    assert none.value.status == 404
    assert str(none.value).startswith(f"{accounts[3]} has no payout in epoch {epoch} — ")
    assert "`proofmind rewards value` shows each value" in str(none.value)  # the hint, too
    with pytest.raises(InputError) as cli_words:
        parse_address("0x12zz")  # the CLI's --account parser
    bad = http.get(f"/api/v1/rewards/epochs/{epoch}/claims/0x12zz")
    assert bad.status_code == 400 and bad.json()["detail"] == str(cli_words.value)
    assert bad.headers["content-type"] == "application/problem+json"
    traversal = http.get(f"/api/v1/rewards/epochs/{epoch}/claims/..%2F..%2Fetc%2Fpasswd")
    assert traversal.status_code in (400, 404)
    assert traversal.headers["content-type"] == "application/problem+json"
    dots = http.get(f"/api/v1/rewards/epochs/{epoch}/claims/%2E%2E")
    assert dots.status_code == 400 and "is not an address" in dots.json()["detail"]
    with pytest.raises(ApiError) as unknown:
        api.reward_claims(epoch + 1)
    assert unknown.value.status == 404 and "UnknownEpoch" in str(unknown.value)


def test_claims_need_the_epoch_tree(ws: Workspace, chain: Chain, make_api: MakeApi) -> None:
    client = _distributor(ws, chain)
    accounts = [a.address for a in chain.accounts[1:3]]
    tree = payout_tree(payouts(list(zip(accounts, [0.5, 0.5], strict=True)), 1000))
    deadline = chain.w3.eth.get_block("latest")["timestamp"] + 3600
    epoch, _ = client.publish(tree, 1000, deadline, b"\x44" * 32)
    api, _ = make_api()
    with pytest.raises(ApiError) as missing:
        api.reward_claim(epoch, accounts[0])
    assert missing.value.status == 404 and f"no tree for epoch {epoch}" in str(missing.value)
    other = payout_tree(payouts(list(zip(accounts, [0.9, 0.1], strict=True)), 1000))
    EpochTrees(ws.root / "rewards", client.distributor).save(chain.chain_id, epoch, other)
    with pytest.raises(ApiError) as stale:
        api.reward_claim(epoch, accounts[0])
    assert stale.value.status == 404 and "its proofs would be refused" in str(stale.value)


def test_a_node_that_stops_answering_is_a_503_not_a_bug(ws: Workspace, chain: Chain) -> None:
    """The node goes away while the service runs: the API says so (503, Retry-After) instead
    of an internal error "this is a bug"; so does the CLI's error line."""
    import requests
    from fastapi.testclient import TestClient

    from proofmind.api import create_app
    from proofmind.chain.connect import open_chain
    from proofmind.chain.rpc import RpcBackend
    from proofmind.cli.main import known_error
    from proofmind.settings import ApiSettings
    from tests.rpc_proxy import rpc_proxy

    with rpc_proxy(chain.w3.provider.endpoint_uri) as proxy:  # type: ignore[attr-defined]
        served = open_chain(RpcBackend(proxy["url"]))
        app = create_app(ws, ApiSettings(), connect=lambda: served)
        http = TestClient(app, raise_server_exceptions=False)  # as a real server answers
        assert http.get("/api/v1/chain").json()["chain_id"] == chain.chain_id
    away = http.get("/api/v1/chain")  # the proxy is closed: the node is gone
    assert away.status_code == 503 and away.headers["Retry-After"] == "5"
    assert away.json()["detail"].startswith("the chain node stopped answering: ConnectionError")
    assert "bug" not in away.json()["detail"]
    with pytest.raises(requests.ConnectionError) as raised:
        served.w3.eth.block_number  # noqa: B018
    said = known_error(raised.value)
    assert said is not None and said.exit_code == 1
    assert str(said).startswith("the chain node stopped answering")
