"""Local state that mirrors the chain, settled against it before it is trusted.

Several parts of a workspace remember what they did on-chain: the deployment registry (which
contract lives where), the lineage ledger (which record is anchored), reward trees (which epoch
has which root), the oracle node's request queue. The chain can lose what they remember — a
devnet restarted from an older dump, a reorg, a chain that was reset — and a command that then
trusts its memory gives confident wrong answers. So every such piece of state is a
:class:`Mirror`: before a command acts on it, :func:`reconcile` asks each mirror to compare
itself with the chain and correct itself (forget, or move back to pending) where they
disagree. Transactions a mirror sent are judged the same way everywhere, by :func:`tx_outcome`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from web3.exceptions import TransactionNotFound

from proofmind.chain.base import Chain

log = logging.getLogger("proofmind.chain")


class Mirror(Protocol):
    """Local state kept about the chain. ``reconcile`` corrects it where the chain disagrees
    and returns one line per correction (empty when they agree)."""

    def reconcile(self, chain: Chain) -> list[str]: ...


def reconcile(chain: Chain, *mirrors: Mirror) -> list[str]:
    """Settle ``mirrors`` against ``chain``, in order (later ones may rely on earlier ones:
    pass the deployment registry first). Returns every correction made (each also logged at
    INFO; a command shows them to its user)."""
    corrections: list[str] = []
    for mirror in mirrors:
        for line in mirror.reconcile(chain):
            log.info("%s", line)
            corrections.append(line)
    return corrections


class Fate(Enum):
    CONFIRMED = "confirmed"  # mined, succeeded, deep enough and durable: trust it
    WAITING = "waiting"  # known to the node but not yet mined, deep or durable enough
    REVERTED = "reverted"  # mined and failed: its effect did not happen
    GONE = "gone"  # the node does not know it (dropped, or lost with a restarted devnet)


@dataclass(frozen=True)
class TxOutcome:
    fate: Fate
    block: int | None = None
    receipt: dict[str, Any] | None = None


def tx_outcome(
    chain: Chain, tx_hash: str, *, confirmations: int | None = None, durable: bool = True
) -> TxOutcome:
    """What became of a transaction this workspace sent. ``confirmations`` None takes the
    chain's setting; with ``durable`` a confirmed transaction is also in the state a restarted
    devnet resumes from (see Chain.confirmed_block) — a service that re-reads the chain after
    every restart, as the oracle node does, may do without."""
    try:
        receipt: dict[str, Any] = dict(chain.w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
    except TransactionNotFound:
        try:
            known = chain.w3.eth.get_transaction(tx_hash) is not None  # type: ignore[arg-type]
        except TransactionNotFound:
            known = False
        return TxOutcome(Fate.WAITING if known else Fate.GONE)
    block = int(receipt["blockNumber"])
    if receipt["status"] != 1:
        return TxOutcome(Fate.REVERTED, block, receipt)
    depth = chain.tx_settings.confirmations if confirmations is None else confirmations
    head = int(chain.w3.eth.block_number)
    trusted = chain.confirmed_block(depth) if durable else head - depth
    if trusted < block:
        return TxOutcome(Fate.WAITING, block, receipt)
    return TxOutcome(Fate.CONFIRMED, block, receipt)
