// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Governor} from "@openzeppelin/contracts/governance/Governor.sol";
import {GovernorCountingSimple} from "@openzeppelin/contracts/governance/extensions/GovernorCountingSimple.sol";
import {GovernorSettings} from "@openzeppelin/contracts/governance/extensions/GovernorSettings.sol";
import {GovernorVotes} from "@openzeppelin/contracts/governance/extensions/GovernorVotes.sol";
import {GovernorVotesQuorumFraction} from
    "@openzeppelin/contracts/governance/extensions/GovernorVotesQuorumFraction.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";

/// @title ProofmindGovernor
/// @notice A plain OpenZeppelin Governor: For/Against/Abstain counting, a quorum as a share of
///         the token supply, settings changeable by governance. Proposals execute from the
///         Governor itself (it holds the treasury); no timelock, so a passed proposal can be
///         executed as soon as voting ends. Its events (ProposalCreated, VoteCast,
///         ProposalExecuted) are what `proofmind gov ingest --chain` reads.
contract ProofmindGovernor is
    Governor,
    GovernorSettings,
    GovernorCountingSimple,
    GovernorVotes,
    GovernorVotesQuorumFraction
{
    constructor(IVotes token_, uint48 votingDelay_, uint32 votingPeriod_, uint256 quorumPercent_)
        Governor("ProofmindGovernor")
        GovernorSettings(votingDelay_, votingPeriod_, 0)
        GovernorVotes(token_)
        GovernorVotesQuorumFraction(quorumPercent_)
    {}

    function proposalThreshold() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.proposalThreshold();
    }
}
