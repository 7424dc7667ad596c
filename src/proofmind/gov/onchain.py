"""Driving an OpenZeppelin Governor on a chain: deploy the ProofmindVotes token and a
ProofmindGovernor, hand out and delegate voting power, propose, vote, execute. Used by the
devnet loop (tests, demos) and by agents that vote; the chain is passed in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from proofmind.chain.contracts import deploy

SUPPORT = {"against": 0, "for": 1, "abstain": 2}


@dataclass
class Governance:
    chain: Any
    token: Any  # web3 contract
    governor: Any

    @property
    def address(self) -> str:
        return str(self.governor.address).lower()

    def propose(
        self,
        proposer: Any,
        targets: Sequence[str],
        values: Sequence[int],
        calldatas: Sequence[bytes],
        description: str,
    ) -> int:
        """Submit a proposal from ``proposer`` (an account); its id."""
        args = (
            [to_checksum_address(t) for t in targets],
            list(values),
            list(calldatas),
            description,
        )
        self.chain.sender(proposer).transact(self.governor.functions.propose(*args))
        return int(self.governor.functions.hashProposal(*args[:3], keccak(text=description)).call())

    def vote(self, voter: Any, proposal_id: int, support: str, reason: str = "") -> None:
        """Cast ``voter``'s vote: for, against or abstain (with a reason when given)."""
        fn = (
            self.governor.functions.castVoteWithReason(proposal_id, SUPPORT[support], reason)
            if reason
            else self.governor.functions.castVote(proposal_id, SUPPORT[support])
        )
        self.chain.sender(voter).transact(fn)

    def execute(
        self,
        targets: Sequence[str],
        values: Sequence[int],
        calldatas: Sequence[bytes],
        description: str,
    ) -> None:
        self.chain.sender().transact(
            self.governor.functions.execute(
                [to_checksum_address(t) for t in targets],
                list(values),
                list(calldatas),
                keccak(text=description),
            )
        )

    def state(self, proposal_id: int) -> int:
        """The Governor's ProposalState (0 Pending, 1 Active, 3 Defeated, 4 Succeeded, 7
        Executed, ...)."""
        return int(self.governor.functions.state(proposal_id).call())

    def deadline(self, proposal_id: int) -> int:
        return int(self.governor.functions.proposalDeadline(proposal_id).call())


def deploy_governance(
    chain: Any,
    holders: dict[Any, int],
    *,
    treasury: int = 0,
    voting_delay: int = 1,
    voting_period: int = 3600,
    quorum_percent: int = 4,
    name: str = "proofmind Votes",
    symbol: str = "PMV",
) -> Governance:
    """Deploy the token (owned by the default account) and the Governor, mint ``holders``
    (account → amount, base units) who each delegate to themselves, and ``treasury`` to the
    Governor. Times are seconds (the token's clock is the block timestamp)."""
    token, _ = deploy(chain, "ProofmindVotes", name, symbol, chain.sender().address)
    governor, _ = deploy(
        chain, "ProofmindGovernor", token.address, voting_delay, voting_period, quorum_percent
    )
    owner = chain.sender()
    for account, amount in holders.items():
        owner.transact(token.functions.mint(account.address, amount))
        chain.sender(account).transact(token.functions.delegate(account.address))
    if treasury:
        owner.transact(token.functions.mint(governor.address, treasury))
    return Governance(chain, token, governor)
