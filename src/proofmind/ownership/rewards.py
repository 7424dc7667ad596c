"""Rewards: contributor values → exact token payouts → a Merkle epoch on the RewardDistributor.

A payout is reproducible from the valuation alone: each contributor with a positive value gets
``floor(pool × value / Σ positive values)`` base units, computed with exact rationals over each
value's shortest decimal form (the form the valuation record publishes, e.g. ``0.3``), so anyone
recomputing it from the published values gets the same integers and the sum never exceeds the
pool; the few units of rounding dust stay in the distributor and are swept back
after the deadline. Contributors whose data was harmful (value ≤ 0) are listed with 0.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from eth_utils.address import is_address, to_checksum_address
from web3.contract import Contract
from web3.logs import DISCARD

from proofmind.chain.base import Chain
from proofmind.crypto.merkle import StandardMerkleTree
from proofmind.errors import InputError, NotFound, ProofmindError

PAYOUT_ENCODING = ["address", "uint256"]


class NoPayout(NotFound):
    """The account has no leaf in the epoch's tree (its data was not valued, or harmful)."""


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


def payout_of(epoch: int, tree: StandardMerkleTree, account: str) -> tuple[str, int, list[bytes]]:
    """What ``account`` passes to the distributor's ``claim`` for ``epoch``: its checksummed
    address, its amount and the Merkle proof of that leaf in ``tree``."""
    key = to_checksum_address(account)
    row = next((r for r in tree.values if to_checksum_address(str(r[0])) == key), None)
    if row is None:
        raise NoPayout(
            f"{key} has no payout in epoch {epoch}",
            hint="an epoch pays only the contributors whose value was positive (and whose share "
            "came to at least one base unit); `proofmind rewards value` shows each value",
        )
    return key, int(row[1]), tree.get_proof(tree.values.index(row))


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
        """Approve and publish an epoch funded with ``total``; returns (epoch, receipt). The
        epoch is the one the receipt's ``EpochPublished`` names: counted before sending, it
        would be wrong if another publish landed first."""
        sender = self.chain.sender()
        allowance = self.token.functions.allowance(sender.address, self.distributor.address).call()
        if allowance < total:
            sender.transact(self.token.functions.approve(self.distributor.address, total))
        receipt = sender.transact(
            self.distributor.functions.publish(tree.root, total, deadline, valuation)
        )
        (published,) = self.distributor.events.EpochPublished().process_receipt(
            receipt, errors=DISCARD
        )
        return int(published["args"]["epoch"]), dict(receipt)

    def statuses(self) -> list[EpochStatus]:
        """Every published epoch's status, oldest first."""
        count = int(self.distributor.functions.epochCount().call())
        return [self.status(e) for e in range(count)]

    def epochs_paying(self, valuation: bytes) -> list[int]:
        """The epochs published for ``valuation`` (a valuation record's hash)."""
        wanted = "0x" + valuation.hex()
        return [s.epoch for s in self.statuses() if s.valuation == wanted]

    def claim(self, epoch: int, tree: StandardMerkleTree, account: str) -> dict[str, Any]:
        """Submit ``account``'s claim (anyone may; the tokens go to ``account``)."""
        key, amount, proof = payout_of(epoch, tree, account)
        call = self.distributor.functions.claim(epoch, key, amount, proof)
        return dict(self.chain.sender().transact(call))

    def sweep(self, epoch: int, to: str) -> tuple[int, dict[str, Any]]:
        """Send what ``epoch`` left unclaimed to ``to`` (the distributor's owner, after the
        deadline, once): the amount its ``Swept`` event names, and the receipt."""
        call = self.distributor.functions.sweep(epoch, to_checksum_address(to))
        receipt = dict(self.chain.sender().transact(call))
        events = self.distributor.events.Swept().process_receipt(receipt, errors=DISCARD)
        return sum(int(e["args"]["amount"]) for e in events), receipt

    def claimed(self, epoch: int, account: str) -> bool:
        """Whether ``account``'s payout of ``epoch`` has been paid."""
        return bool(self.distributor.functions.claimed(epoch, to_checksum_address(account)).call())

    def paid(self, receipt: dict[str, Any]) -> int:
        """The amount a claim's receipt says was paid (its ``Claimed`` event)."""
        events = self.distributor.events.Claimed().process_receipt(receipt, errors=DISCARD)
        return sum(int(e["args"]["amount"]) for e in events)

    def status(self, epoch: int) -> EpochStatus:
        root, valuation, funded, claimed, deadline, swept = self.distributor.functions.epochOf(
            epoch
        ).call()
        return EpochStatus(
            epoch, "0x" + root.hex(), funded, claimed, deadline, swept, "0x" + valuation.hex()
        )


class EpochTrees:
    """The epoch trees this workspace published (``epoch-CHAIN-N.json``, OZ's standard-v1
    dump), kept for claims. A mirror of the distributor's epochs (see chain.reconcile): a tree
    whose epoch the distributor does not hold with the same root is moved aside."""

    _NAME = re.compile(r"epoch-(\d+)-(\d+)\.json")

    def __init__(self, folder: Path, distributor: Contract) -> None:
        self.folder = folder
        self.distributor = distributor

    def path(self, chain_id: int, epoch: int) -> Path:
        return self.folder / f"epoch-{chain_id}-{epoch}.json"

    def save(self, chain_id: int, epoch: int, tree: StandardMerkleTree) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.path(chain_id, epoch)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(tree.dump(), indent=1))
        tmp.replace(target)
        return target

    def load(self, chain_id: int, epoch: int) -> StandardMerkleTree:
        saved = self.path(chain_id, epoch)
        if not saved.is_file():
            raise NotFound(
                f"no tree for epoch {epoch} in this workspace ({saved})",
                hint="claim from the workspace that published the epoch, or copy its tree there",
            )
        return StandardMerkleTree.load(saved.read_text())

    def reconcile(self, chain: Chain) -> list[str]:
        corrections = []
        count = int(self.distributor.functions.epochCount().call())
        for saved in sorted(self.folder.glob(f"epoch-{chain.chain_id}-*.json")):
            match = self._NAME.fullmatch(saved.name)
            if match is None:
                continue
            epoch = int(match.group(2))
            root = (
                "0x" + bytes(self.distributor.functions.epochOf(epoch).call()[0]).hex()
                if epoch < count
                else None
            )
            try:
                tree_root: str | None = StandardMerkleTree.load(saved.read_text()).root_hex
            except (ProofmindError, ValueError, KeyError, TypeError):
                tree_root = None  # unreadable: it cannot be claimed from either
            if root is not None and tree_root == root:
                continue
            saved.replace(saved.with_suffix(".stale"))
            held = "has no such epoch" if root is None else f"holds root {root}"
            corrections.append(
                f"reward tree {saved.name} does not match the distributor on chain "
                f"{chain.chain_id}, which {held}: moved aside to {saved.with_suffix('.stale').name}"
            )
        return corrections
