"""Reward epochs on the workspace's RewardDistributor, and the claims data of each: what a
claimant passes to the distributor's ``claim`` (`proofmind rewards claim` submits it)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from proofmind.addresses import parse_address
from proofmind.app.ownership import epoch_trees, rewards_client
from proofmind.app.paging import Page, check_limit, decode_cursor, encode_cursor
from proofmind.chain.base import Chain
from proofmind.crypto.merkle import StandardMerkleTree
from proofmind.errors import InputError, NotFound
from proofmind.ownership.rewards import EpochStatus, RewardsClient, payout_of
from proofmind.workspace import Workspace


def reward_epochs(
    workspace: Workspace, chain: Chain, epoch: int | None = None
) -> list[EpochStatus]:
    """Funded, claimed, deadline and sweep state of every epoch (or of ``epoch``)."""
    client = rewards_client(chain, workspace)
    if epoch is None:
        return client.statuses()
    _epoch_count(client, epoch)  # NotFound for an epoch not published
    return [client.status(epoch)]


def _epoch_count(client: RewardsClient, epoch: int | None = None) -> int:
    """The number of epochs published; NotFound when ``epoch`` is not one of them."""
    count = int(client.distributor.functions.epochCount().call())
    if epoch is not None and not 0 <= epoch < count:
        raise NotFound(
            f"no reward epoch {epoch} on RewardDistributor {client.distributor.address}: "
            f"{count} published (the contract answers UnknownEpoch)",
            hint="`proofmind rewards status` lists the published epochs",
        )
    return count


def epoch_view(status: EpochStatus) -> dict[str, Any]:
    # wei amounts exceed what JSON numbers carry exactly in JavaScript: sent as strings
    doc = asdict(status)
    doc["funded"], doc["claimed"] = str(status.funded), str(status.claimed)
    return doc


def epochs_page(
    workspace: Workspace, chain: Chain, *, limit: int = 100, cursor: str | None = None
) -> Page[EpochStatus]:
    """A page of the distributor's epochs, oldest first: one contract read per epoch shown
    (and one for the count), however many epochs there are."""
    after = decode_cursor("epochs", cursor)
    check_limit(limit)
    client = rewards_client(chain, workspace)
    count = int(client.distributor.functions.epochCount().call())
    start = 0 if after is None else after + 1
    shown = range(start, min(count, start + limit))
    items = [client.status(e) for e in shown]
    more = start + limit < count
    return Page(items, encode_cursor("epochs", shown[-1]) if more and items else None)


# -- claims ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimData:
    """One payout of an epoch: the arguments of ``RewardDistributor.claim(epoch, account,
    amount, proof)``, and whether it has been paid already."""

    epoch: int
    account: str
    amount: int
    proof: tuple[str, ...]
    claimed: bool
    root: str
    deadline: int
    distributor: str


def claim_view(claim: ClaimData) -> dict[str, Any]:
    doc = asdict(claim)
    doc["amount"] = str(claim.amount)  # wei: beyond what a JavaScript number holds exactly
    doc["proof"] = list(claim.proof)
    return doc


def _epoch_tree(
    workspace: Workspace, chain: Chain, client: RewardsClient, epoch: int
) -> tuple[StandardMerkleTree, EpochStatus]:
    """The workspace's tree of ``epoch``, checked against the root the distributor holds (a
    proof from any other tree would revert)."""
    _epoch_count(client, epoch)
    tree = epoch_trees(workspace, client).load(chain.chain_id, epoch)
    status = client.status(epoch)
    if tree.root_hex != status.root:
        raise NotFound(
            f"the workspace's tree for reward epoch {epoch} has root {tree.root_hex}, the "
            f"distributor holds {status.root}: its proofs would be refused",
            hint="`proofmind rewards claim` moves a stale tree aside; claim from the "
            "workspace that published the epoch",
        )
    return tree, status


def _claim(
    client: RewardsClient, status: EpochStatus, key: str, amount: int, proof: Any
) -> ClaimData:
    return ClaimData(
        epoch=status.epoch,
        account=key,
        amount=amount,
        proof=tuple("0x" + bytes(p).hex() for p in proof),
        claimed=client.claimed(status.epoch, key),
        root=status.root,
        deadline=status.deadline,
        distributor=str(client.distributor.address),
    )


def claim_data(workspace: Workspace, chain: Chain, epoch: int, account: str) -> ClaimData:
    """What ``account`` needs to claim its payout of ``epoch`` (`proofmind rewards claim`
    sends exactly this): amount, Merkle proof, and whether it is paid already."""
    key = parse_address(account)
    client = rewards_client(chain, workspace)
    tree, status = _epoch_tree(workspace, chain, client, epoch)
    key, amount, proof = payout_of(epoch, tree, key)
    return _claim(client, status, key, amount, proof)


def claims_page(
    workspace: Workspace, chain: Chain, epoch: int, *, limit: int = 100, cursor: str | None = None
) -> Page[ClaimData]:
    """The payouts of ``epoch`` in the tree's order, a page at a time (one chain read per
    payout shown, for its claimed flag)."""
    after = decode_cursor("claims", cursor)
    check_limit(limit)
    client = rewards_client(chain, workspace)
    tree, status = _epoch_tree(workspace, chain, client, epoch)
    start = 0 if after is None else after + 1
    shown = range(start, min(len(tree.values), start + limit))
    items = [_claim(client, status, *payout_of(epoch, tree, str(tree.values[n][0]))) for n in shown]
    more = start + limit < len(tree.values)
    return Page(items, encode_cursor("claims", shown[-1]) if more and items else None)


def submit_claim(
    workspace: Workspace, chain: Chain, epoch: int, account: str
) -> tuple[ClaimData, int, dict[str, Any]]:
    """Claim ``account``'s payout of ``epoch`` (anyone may; the tokens go to ``account``):
    the claim sent, the amount the receipt says was paid, and the receipt. A claim paid
    already, or after the epoch's deadline, is refused before anything is sent."""
    claim = claim_data(workspace, chain, epoch, account)
    if claim.claimed:
        raise InputError(
            f"{claim.account}'s payout of epoch {epoch} ({claim.amount} base units) was claimed "
            "already: each account claims once per epoch",
            hint="`proofmind rewards status` shows what each epoch paid",
        )
    if int(chain.w3.eth.get_block("latest")["timestamp"]) > claim.deadline:
        closed = time.strftime("%Y-%m-%d %H:%M", time.gmtime(claim.deadline))
        raise InputError(
            f"epoch {epoch}'s claims closed at {closed} UTC: {claim.account}'s payout was not "
            "claimed in time",
            hint="the distributor's owner may sweep what is left (`proofmind rewards sweep`)",
        )
    client = rewards_client(chain, workspace)
    call = client.distributor.functions.claim(
        epoch, claim.account, claim.amount, [bytes.fromhex(p[2:]) for p in claim.proof]
    )
    receipt = dict(chain.sender().transact(call))
    return claim, client.paid(receipt), receipt


def sweep_epoch(
    workspace: Workspace, chain: Chain, epoch: int, to: str | None = None
) -> tuple[int, str, dict[str, Any]]:
    """Take back what ``epoch`` left unclaimed, after its claim deadline (the distributor's
    owner, once): the amount, where it went (default: the sending account) and the receipt.
    Refused before sending when the window is open or the epoch was swept."""
    client = rewards_client(chain, workspace)
    _epoch_count(client, epoch)  # NotFound for an epoch not published
    status = client.status(epoch)
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    if status.swept:
        raise InputError(f"epoch {epoch} was swept already")
    if now <= status.deadline:
        left = time.strftime("%Y-%m-%d %H:%M", time.gmtime(status.deadline))
        raise InputError(
            f"epoch {epoch} is open for claims until {left} UTC: it can be swept after that",
            hint="`proofmind rewards status` shows each epoch's deadline",
        )
    target = to or chain.sender().address
    amount, receipt = client.sweep(epoch, target)
    return amount, target, receipt
