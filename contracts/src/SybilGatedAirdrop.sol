// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IInferenceConsumer, InferenceOracle} from "./InferenceOracle.sol";

/// @title SybilGatedAirdrop
/// @notice An airdrop that pays a claimant only when the oracle's risk score for it is under a
///         threshold. The claimant's model input (its on-chain features) must be a leaf of
///         `featuresRoot`, which the owner publishes from the ingested chain data (OpenZeppelin
///         StandardMerkleTree leaf: keccak256(keccak256(abi.encode(account, features)))), so
///         nobody can claim with made-up features.
///         Addresses a sybil report flagged are kept out by a second tree: once the owner sets a
///         flagged list, a claimant also proves it is *not* on it, with a leaf (low, high) of
///         `exclusionRoot` such that low < claimant < high. That tree's leaves are the gaps
///         between consecutive flagged addresses (sorted, with 0x0 and 0xff…ff at the ends), so
///         a flagged address falls in no gap. An accepted appeal removes its address from the
///         list: the owner sets the new roots and that address can claim.
contract SybilGatedAirdrop is IInferenceConsumer, Ownable {
    using SafeERC20 for IERC20;

    enum ClaimStatus {
        None,
        Pending,
        Paid,
        Rejected
    }

    InferenceOracle public immutable oracle;
    IERC20 public immutable token;
    bytes32 public immutable modelId;
    uint256 public immutable amount;
    /// @notice fixed-point score (at the model's output scale) a claimant must stay under
    int256 public immutable threshold;
    uint32 public constant CALLBACK_GAS = 150_000;
    bytes32 public featuresRoot;
    /// @notice Root of the flagged list as the sybil report names it (leaves: address), which
    ///         appeals refer to; 0 while no list is set.
    bytes32 public flaggedRoot;
    /// @notice Root of the gaps between flagged addresses (leaves: address low, address high);
    ///         claims prove non-membership against it. 0 while no list is set.
    bytes32 public exclusionRoot;

    mapping(address account => ClaimStatus) public claims;
    mapping(uint256 requestId => address account) public claimantOf;
    /// @notice Oracle fees paid by claims still pending: a refund of one of them belongs to its
    ///         claimant, never to the owner.
    uint256 public pendingFees;
    mapping(uint256 requestId => uint256 fee) public feeOf;

    event FeaturesRootSet(bytes32 root);
    /// @notice A (new) flagged list: `previous` is the flagged root it replaces.
    event FlaggedListSet(bytes32 indexed flaggedRoot, bytes32 exclusionRoot, bytes32 indexed previous);
    event ClaimRequested(address indexed account, uint256 indexed requestId);
    event ClaimPaid(address indexed account, uint256 indexed requestId, int256 score, uint256 amount);
    event ClaimUnfunded(address indexed account, uint256 indexed requestId, int256 score);
    event ClaimRejected(address indexed account, uint256 indexed requestId, int256 score);
    event ClaimReset(address indexed account, uint256 indexed requestId, uint256 refunded);

    error NotOracle(address caller);
    error AlreadyClaimed(address account, ClaimStatus status);
    error NotEligible(address account);
    error UnknownRequest(uint256 requestId);
    error Flagged(address account);
    error FlaggedListSetUseClaimUnflagged();
    error InvalidFlaggedList();

    constructor(
        InferenceOracle oracle_,
        IERC20 token_,
        bytes32 modelId_,
        uint256 amount_,
        int256 threshold_,
        address owner_
    ) Ownable(owner_) {
        oracle = oracle_;
        token = token_;
        modelId = modelId_;
        amount = amount_;
        threshold = threshold_;
    }

    function setFeaturesRoot(bytes32 root) external onlyOwner {
        featuresRoot = root;
        emit FeaturesRootSet(root);
    }

    /// @notice Set the flagged list (a sybil report's, or the one an accepted appeal left):
    ///         both of its roots, or both 0 to lift it.
    function setFlaggedList(bytes32 flaggedRoot_, bytes32 exclusionRoot_) external onlyOwner {
        if ((flaggedRoot_ == bytes32(0)) != (exclusionRoot_ == bytes32(0))) revert InvalidFlaggedList();
        bytes32 previous = flaggedRoot;
        flaggedRoot = flaggedRoot_;
        exclusionRoot = exclusionRoot_;
        emit FlaggedListSet(flaggedRoot_, exclusionRoot_, previous);
    }

    /// @notice Whether `account` is provably not on the flagged list: (low, high) is a leaf of
    ///         `exclusionRoot` with low < account < high. True for everyone while no list is set.
    function isUnflagged(address account, address low, address high, bytes32[] calldata proof)
        public
        view
        returns (bool)
    {
        if (exclusionRoot == bytes32(0)) return true;
        if (!(low < account && account < high)) return false;
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(low, high))));
        return MerkleProof.verifyCalldata(proof, exclusionRoot, leaf);
    }

    /// @notice Ask the oracle to score the caller; pay the oracle's fee. The tokens arrive when
    ///         the answer does, if the score is under the threshold. Only while no flagged list
    ///         is set; then `claimUnflagged`.
    function claim(int256[] calldata features, bytes32[] calldata proof) external payable returns (uint256 requestId) {
        if (exclusionRoot != bytes32(0)) revert FlaggedListSetUseClaimUnflagged();
        requestId = _claim(features, proof);
    }

    /// @notice `claim` with a proof that the caller is not on the flagged list: the gap
    ///         (low, high) of the exclusion tree it falls in.
    function claimUnflagged(
        int256[] calldata features,
        bytes32[] calldata proof,
        address low,
        address high,
        bytes32[] calldata gapProof
    ) external payable returns (uint256 requestId) {
        if (!isUnflagged(msg.sender, low, high, gapProof)) revert Flagged(msg.sender);
        requestId = _claim(features, proof);
    }

    // slither-disable-next-line reentrancy-benign,reentrancy-events (the call is to the immutable oracle, which returns the request id the writes need; the claim is marked pending before it)
    function _claim(int256[] calldata features, bytes32[] calldata proof) private returns (uint256 requestId) {
        ClaimStatus status = claims[msg.sender];
        if (status != ClaimStatus.None) revert AlreadyClaimed(msg.sender, status);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(msg.sender, features))));
        if (!MerkleProof.verifyCalldata(proof, featuresRoot, leaf)) revert NotEligible(msg.sender);
        claims[msg.sender] = ClaimStatus.Pending;
        requestId = oracle.requestInference{value: msg.value}(modelId, features, CALLBACK_GAS);
        claimantOf[requestId] = msg.sender;
        feeOf[requestId] = msg.value;
        pendingFees += msg.value;
        emit ClaimRequested(msg.sender, requestId);
    }

    /// @notice A claim that stayed pending although its request is over may be tried again:
    ///         the oracle refunded the request (its fee goes back to the claimant), or answered
    ///         it but the callback failed (the fee paid for that answer).
    function reset(uint256 requestId) external {
        address account = claimantOf[requestId];
        if (account == address(0)) revert UnknownRequest(requestId);
        InferenceOracle.Status status = oracle.getRequest(requestId).status;
        bool over = status == InferenceOracle.Status.Refunded || status == InferenceOracle.Status.Fulfilled;
        if (!over || claims[account] != ClaimStatus.Pending) revert AlreadyClaimed(account, claims[account]);
        uint256 fee = _settle(requestId);
        claims[account] = ClaimStatus.None;
        uint256 refunded = status == InferenceOracle.Status.Refunded ? fee : 0;
        emit ClaimReset(account, requestId, refunded);
        if (refunded > 0) oracle.withdrawTo(payable(account), refunded);
    }

    /// @notice What the oracle credited this contract beyond the refunds owed to pending
    ///         claimants (e.g. the requester's share of a slashed bond) goes to the owner.
    function collectSurplus(address payable to) external onlyOwner {
        uint256 balance = oracle.balanceOf(address(this));
        if (balance > pendingFees) oracle.withdrawTo(to, balance - pendingFees);
    }

    function onInference(uint256 requestId, int256[] calldata output) external {
        if (msg.sender != address(oracle)) revert NotOracle(msg.sender);
        address account = claimantOf[requestId];
        if (account == address(0)) revert UnknownRequest(requestId);
        _settle(requestId);
        int256 score = output[0];
        if (score < threshold && token.balanceOf(address(this)) < amount) {
            claims[account] = ClaimStatus.None; // may claim again once the airdrop is refilled
            emit ClaimUnfunded(account, requestId, score);
        } else if (score < threshold) {
            claims[account] = ClaimStatus.Paid;
            token.safeTransfer(account, amount);
            emit ClaimPaid(account, requestId, score, amount);
        } else {
            claims[account] = ClaimStatus.Rejected;
            emit ClaimRejected(account, requestId, score);
        }
    }

    function _settle(uint256 requestId) private returns (uint256 fee) {
        fee = feeOf[requestId];
        pendingFees -= fee;
        delete feeOf[requestId];
        delete claimantOf[requestId];
    }

    receive() external payable {}
}
