"""Sender behaviour that needs a misbehaving node: retries, timeouts."""

from __future__ import annotations

import pytest
from eth_account import Account

from proofmind.chain.base import Chain
from proofmind.chain.rpc import http_web3
from proofmind.chain.sender import TxSender
from proofmind.errors import ChainError, TransactionTimeout
from proofmind.settings import TxSettings
from tests.mining import manual_mining
from tests.rpc_proxy import rpc_proxy

pytestmark = pytest.mark.devnet


def test_transient_429s_are_retried(chain: Chain) -> None:
    upstream = chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    receiver = Account.create().address
    with rpc_proxy(upstream, throttle=3) as proxy:
        w3 = http_web3(proxy["url"])
        settings = TxSettings(max_retries=4, backoff_seconds=0.01)
        sender = TxSender(w3, chain.accounts[2], chain.chain_id, settings)
        receipt = sender.send({"to": receiver, "value": 3})
        assert proxy["throttled"] == 3
    assert receipt["status"] == 1
    assert chain.w3.eth.get_balance(receiver) == 3


def test_retries_are_bounded(chain: Chain) -> None:
    upstream = chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    with rpc_proxy(upstream, throttle=100) as proxy:
        w3 = http_web3(proxy["url"])
        sender = TxSender(
            w3, chain.accounts[2], chain.chain_id, TxSettings(max_retries=2, backoff_seconds=0.01)
        )
        with pytest.raises(ChainError, match="did not answer after 3 attempts"):
            sender.send({"to": Account.create().address, "value": 1})
        assert proxy["throttled"] == 3


def test_receipt_wait_times_out(chain: Chain) -> None:
    with manual_mining(chain):
        sender = TxSender(
            chain.w3, chain.accounts[3], chain.chain_id, TxSettings(receipt_timeout=0.3)
        )
        with pytest.raises(TransactionTimeout, match="was not mined within 0s"):
            sender.send({"to": Account.create().address, "value": 1})


def test_gas_covers_a_checkpoint_written_in_a_later_block(chain: Chain) -> None:
    """ERC20Votes keeps a supply checkpoint per block timestamp: a mint estimated in the block
    of the previous one updates that slot, but mined a second later it writes a fresh one
    (about 20,000 gas more). The multiplier alone falls short; the limit sent covers it."""
    from proofmind.chain.contracts import deploy
    from proofmind.chain.sender import gas_limit

    owner = chain.sender()
    token, _ = deploy(chain, "ProofmindVotes", "Votes", "V", owner.address)
    owner.transact(token.functions.mint(chain.accounts[1].address, 10))
    call = token.functions.mint(chain.accounts[2].address, 10)
    tx = {"from": owner.address, "to": token.address, "data": call._encode_transaction_data()}
    estimate = chain.w3.eth.estimate_gas(tx)  # type: ignore[arg-type]
    chain.w3.provider.make_request("evm_increaseTime", [3])  # type: ignore[arg-type]
    receipt = owner.send({**tx, "gas": gas_limit(estimate, owner.settings)})
    assert receipt["status"] == 1
    assert receipt["gasUsed"] > int(estimate * owner.settings.gas_multiplier)


def test_a_send_whose_answer_was_lost_is_waited_for_not_refused(chain: Chain) -> None:
    """The node got the transaction but its answer was lost (a 502 from a gateway): the retry
    sends the same bytes again, and anvil says "transaction already imported" (geth "already
    known"). It is the same transaction: the sender waits for it instead of failing."""
    upstream = chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    receiver = Account.create().address
    with rpc_proxy(upstream, lose_sends=1) as proxy:
        w3 = http_web3(proxy["url"])
        settings = TxSettings(max_retries=2, backoff_seconds=0.01)
        sender = TxSender(w3, chain.accounts[4], chain.chain_id, settings)
        with manual_mining(chain, interval=1):  # the first send still in the pool when retried
            receipt = sender.send({"to": receiver, "value": 5})
        assert proxy["lost"] == 1
    assert receipt["status"] == 1
    assert chain.w3.eth.get_balance(receiver) == 5
