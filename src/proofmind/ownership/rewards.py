"""Rewards: contributor values → exact token payouts → a Merkle epoch on the RewardDistributor.

A payout is reproducible from the valuation alone: each contributor with a positive value gets
``floor(pool × value / Σ positive values)`` base units, computed with exact rationals over each
value's shortest decimal form (the form the valuation record publishes, e.g. ``0.3``), so anyone
recomputing it from the published values gets the same integers and the sum never exceeds the
pool; the few units of rounding dust stay in the distributor and are swept back
after the deadline. Contributors whose data was harmful (value ≤ 0) are listed with 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from eth_utils.address import is_address, to_checksum_address
from web3.contract import Contract

from proofmind.chain.base import Chain
from proofmind.crypto.merkle import StandardMerkleTree
from proofmind.errors import InputError

PAYOUT_ENCODING = ["address", "uint256"]


@dataclass(frozen=True)
class Payout:
    account: str
    value: float
    amount: int


def payouts(values: Sequence[tuple[str, float]], pool: int) -> list[Payout]:
    """Split ``pool`` base units in proportion to the positive values (see module doc)."""
    if isinstance(pool, bool) or not isinstance(pool, int) or pool <= 0:
        raise InputError(f"the pool must be a positive number of token base units, got {pool!r}")
    seen: set[str] = set()
    checked: list[tuple[str, float]] = []
    for account, value in values:
        if not is_address(account):
            raise InputError(f"{account!r} is not an Ethereum address")
        key = to_checksum_address(account)
        if key in seen:
            raise InputError(
                f"contributor {key} appears twice", hint="sum their values into one entry"
            )
        if not math.isfinite(value):
            raise InputError(f"the value of {key} is {value}: values must be finite")
        seen.add(key)
        checked.append((key, float(value)))
    total = sum((exact(v) for _, v in checked if v > 0), Fraction(0))
    if total == 0:
        raise InputError("no contributor has a positive value: there is nothing to pay for")
    return [Payout(a, v, math.floor(pool * exact(v) / total) if v > 0 else 0) for a, v in checked]


def exact(value: float) -> Fraction:
    """The value as the decimal it prints as (``repr``), exactly."""
    return Fraction(repr(float(value)))


def payout_tree(items: Sequence[Payout]) -> StandardMerkleTree:
    """The epoch's tree over (account, amount) of every non-zero payout."""
    rows: list[list[Any]] = [[p.account, p.amount] for p in items if p.amount > 0]
    if not rows:
        raise InputError("every payout is zero", hint="raise the pool")
    return StandardMerkleTree.of(rows, PAYOUT_ENCODING)


@dataclass(frozen=True)
class EpochStatus:
    epoch: int
    root: str
    funded: int
    claimed: int
    deadline: int
    swept: bool
    valuation: str


class RewardsClient:
    """Publish epochs on a RewardDistributor and claim from them."""

    def __init__(self, chain: Chain, distributor: Contract, token: Contract) -> None:
        self.chain = chain
        self.distributor = distributor
        self.token = token

    def publish(
        self, tree: StandardMerkleTree, total: int, deadline: int, valuation: bytes
    ) -> tuple[int, dict[str, Any]]:
        """Approve and publish an epoch funded with ``total``; returns (epoch, receipt)."""
        sender = self.chain.sender()
        allowance = self.token.functions.allowance(sender.address, self.distributor.address).call()
        if allowance < total:
            sender.transact(self.token.functions.approve(self.distributor.address, total))
        epoch = int(self.distributor.functions.epochCount().call())
        receipt = sender.transact(
            self.distributor.functions.publish(tree.root, total, deadline, valuation)
        )
        return epoch, dict(receipt)

    def claim(self, epoch: int, tree: StandardMerkleTree, account: str) -> dict[str, Any]:
        """Submit ``account``'s claim (anyone may; the tokens go to ``account``)."""
        key = to_checksum_address(account)
        row = next((r for r in tree.values if to_checksum_address(str(r[0])) == key), None)
        if row is None:
            raise InputError(f"{key} has no payout in epoch {epoch}")
        proof = tree.get_proof(tree.values.index(row))
        call = self.distributor.functions.claim(epoch, key, int(row[1]), proof)
        return dict(self.chain.sender().transact(call))

    def status(self, epoch: int) -> EpochStatus:
        root, valuation, funded, claimed, deadline, swept = self.distributor.functions.epochOf(
            epoch
        ).call()
        return EpochStatus(
            epoch, "0x" + root.hex(), funded, claimed, deadline, swept, "0x" + valuation.hex()
        )
