"""Payout rounding (hypothesis) and an epoch published and claimed on the devnet."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proofmind.chain.base import Chain
from proofmind.chain.contracts import deploy
from proofmind.chain.reconcile import reconcile
from proofmind.errors import ContractReverted, InputError
from proofmind.ownership.rewards import EpochTrees, RewardsClient, exact, payout_tree, payouts

ACCOUNTS = [f"0x{n:040x}" for n in range(1, 40)]
value = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False, allow_subnormal=True)


@given(
    values=st.lists(value, min_size=1, max_size=len(ACCOUNTS)).filter(lambda v: max(v) > 0),
    pool=st.integers(min_value=1, max_value=10**30),
)
def test_payouts_never_exceed_the_pool(values: list[float], pool: int) -> None:
    items = payouts(list(zip(ACCOUNTS, values, strict=False)), pool)
    paid = sum(p.amount for p in items)
    positive = sum(exact(v) for v in values if v > 0)
    assert paid <= pool
    assert pool - paid < sum(1 for v in values if v > 0) + 1  # less than one unit lost each
    for item, v in zip(items, values, strict=False):
        assert item.amount >= 0
        assert item.amount == (math.floor(pool * exact(v) / positive) if v > 0 else 0)


def test_harmful_contributors_get_nothing_and_are_still_listed() -> None:
    items = payouts([(ACCOUNTS[0], 0.3), (ACCOUNTS[1], -0.5), (ACCOUNTS[2], 0.1)], 1000)
    assert [p.amount for p in items] == [750, 0, 250]
    assert [row[0].lower() for row in payout_tree(items).values] == [ACCOUNTS[0], ACCOUNTS[2]]


@pytest.mark.parametrize(
    ("values", "pool", "message"),
    [
        ([(ACCOUNTS[0], 1.0), (ACCOUNTS[0].upper().replace("0X", "0x"), 1.0)], 10, "appears twice"),
        ([(ACCOUNTS[0], float("nan"))], 10, "values must be finite"),
        ([(ACCOUNTS[0], -1.0)], 10, "no contributor has a positive value"),
        ([("alice", 1.0)], 10, "is not an Ethereum address"),
        ([(ACCOUNTS[0], 1.0)], 0, "pool must be a positive number"),
    ],
)
def test_bad_payout_input(values: list[tuple[str, float]], pool: int, message: str) -> None:
    with pytest.raises(InputError, match=message):
        payouts(values, pool)


@pytest.mark.devnet
def test_publish_claim_and_no_double_claim(chain: Chain) -> None:
    owner = chain.sender().address
    token, _ = deploy(chain, "RewardToken", "Data Reward", "DATA", owner)
    distributor, _ = deploy(chain, "RewardDistributor", token.address, owner)
    chain.sender().transact(token.functions.mint(owner, 10**21))
    accounts = [a.address for a in chain.accounts[1:4]]
    items = payouts(list(zip(accounts, [0.5, 0.25, -0.1], strict=True)), 3 * 10**18)
    tree = payout_tree(items)
    client = RewardsClient(chain, distributor, token)
    deadline = chain.w3.eth.get_block("latest")["timestamp"] + 3600
    epoch, _ = client.publish(tree, 3 * 10**18, deadline, b"\x11" * 32)
    status = client.status(epoch)
    assert status.funded == 3 * 10**18 and status.root == tree.root_hex
    client.claim(epoch, tree, accounts[0])
    assert token.functions.balanceOf(accounts[0]).call() == 2 * 10**18
    with pytest.raises(ContractReverted) as again:
        client.claim(epoch, tree, accounts[0])
    assert again.value.error_name == "AlreadyClaimed"
    with pytest.raises(InputError, match="has no payout"):
        client.claim(epoch, tree, accounts[2])  # harmful data, no payout
    assert client.status(epoch).claimed == 2 * 10**18


@pytest.mark.devnet
def test_saved_trees_the_chain_lost_are_moved_aside(chain: Chain, tmp_path: Path) -> None:
    """A tree kept for an epoch the distributor does not hold (the chain was reset or
    restarted from an older state) would make every claim revert: it is moved aside, and the
    claim says there is no tree for that epoch."""
    owner = chain.sender().address
    token, _ = deploy(chain, "RewardToken", "Data Reward", "DATA", owner)
    distributor, _ = deploy(chain, "RewardDistributor", token.address, owner)
    chain.sender().transact(token.functions.mint(owner, 10**21))
    client = RewardsClient(chain, distributor, token)
    trees = EpochTrees(tmp_path / "rewards", distributor)
    accounts = [a.address for a in chain.accounts[1:3]]
    deadline = chain.w3.eth.get_block("latest")["timestamp"] + 3600
    kept = payout_tree(payouts(list(zip(accounts, [0.5, 0.5], strict=True)), 1000))
    epoch, _ = client.publish(kept, 1000, deadline, b"\x11" * 32)
    trees.save(chain.chain_id, epoch, kept)
    lost = payout_tree(payouts(list(zip(accounts, [0.9, 0.1], strict=True)), 500))
    trees.save(chain.chain_id, epoch + 1, lost)  # published, then lost with the chain
    assert reconcile(chain, trees) == [
        f"reward tree epoch-{chain.chain_id}-{epoch + 1}.json does not match the distributor "
        f"on chain {chain.chain_id}, which has no such epoch: moved aside to "
        f"epoch-{chain.chain_id}-{epoch + 1}.stale"
    ]
    assert trees.load(chain.chain_id, epoch).root_hex == kept.root_hex
    with pytest.raises(InputError, match=f"no tree for epoch {epoch + 1}"):
        trees.load(chain.chain_id, epoch + 1)
    assert reconcile(chain, trees) == []  # agreeing state is left alone
    receipt = client.claim(epoch, trees.load(chain.chain_id, epoch), accounts[0])
    assert client.paid(receipt) == 500
