"""tx_outcome: what became of a transaction, judged the same way by every mirror."""

from __future__ import annotations

import pytest
from eth_account import Account

from proofmind.chain.base import Chain
from proofmind.chain.contracts import deploy
from proofmind.chain.reconcile import Fate, tx_outcome

pytestmark = pytest.mark.devnet


def test_confirmed_reverted_and_gone(chain: Chain) -> None:
    sender = chain.sender()
    sent = sender.send({"to": Account.create().address, "value": 1})
    block = int(sent["blockNumber"])
    assert chain.wait_confirmed(block, timeout=5.0)
    outcome = tx_outcome(chain, sent["transactionHash"].to_0x_hex())
    assert outcome.fate is Fate.CONFIRMED and outcome.block == block

    deep = tx_outcome(chain, sent["transactionHash"].to_0x_hex(), confirmations=3)
    assert deep.fate is Fate.WAITING and deep.receipt is not None  # mined, not 3 deep yet
    chain.mine(3)
    assert tx_outcome(chain, sent["transactionHash"].to_0x_hex(), confirmations=3).fate is (
        Fate.CONFIRMED
    )

    registry, _ = deploy(chain, "ProvenanceRegistry")
    empty = registry.functions.register((0, b"\0" * 32, "", [], b"\0" * 32))  # EmptyContentHash
    failed = sender.submit(
        {"to": registry.address, "data": empty._encode_transaction_data(), "gas": 200_000}
    )
    chain.w3.eth.wait_for_transaction_receipt(failed)
    assert tx_outcome(chain, failed.to_0x_hex()).fate is Fate.REVERTED

    assert tx_outcome(chain, "0x" + "ab" * 32).fate is Fate.GONE
