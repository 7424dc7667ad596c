// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title RewardDistributor
/// @notice Pays data contributors in epochs. Each epoch is a Merkle root over (account, amount)
///         rows (OpenZeppelin StandardMerkleTree, leaf = keccak256(keccak256(abi.encode(
///         account, amount)))), funded in full when it is published. Anyone may submit an
///         account's claim (the tokens go to the account); each account claims once per epoch;
///         after the claim deadline the owner sweeps what is left.
/// @dev `valuation` names the provenance record of the valuation the payout came from, so
///      anyone can recompute the tree.
contract RewardDistributor is Ownable, ReentrancyGuard {
    using SafeERC20 for IERC20;

    struct Epoch {
        bytes32 root;
        bytes32 valuation;
        uint128 funded;
        uint128 claimed;
        uint64 deadline;
        bool swept;
    }

    IERC20 public immutable token;
    Epoch[] private _epochs;
    mapping(uint256 epoch => mapping(address account => bool)) public claimed;

    event EpochPublished(
        uint256 indexed epoch, bytes32 root, uint256 funded, uint64 deadline, bytes32 valuation
    );
    event Claimed(uint256 indexed epoch, address indexed account, uint256 amount);
    event Swept(uint256 indexed epoch, address to, uint256 amount);

    error EmptyRoot();
    error NothingToFund();
    error DeadlineNotInFuture(uint64 deadline);
    error UnknownEpoch(uint256 epoch);
    error AlreadyClaimed(uint256 epoch, address account);
    error InvalidProof();
    error ClaimWindowClosed(uint256 epoch, uint64 deadline);
    error ClaimWindowOpen(uint256 epoch, uint64 deadline);
    error AlreadySwept(uint256 epoch);
    error ExceedsFunding(uint256 epoch, uint256 wanted, uint256 left);

    constructor(IERC20 token_, address owner_) Ownable(owner_) {
        token = token_;
    }

    /// @notice Publish an epoch and fund it with `total` tokens from the caller (approve first).
    function publish(bytes32 root, uint128 total, uint64 deadline, bytes32 valuation)
        external
        onlyOwner
        nonReentrant
        returns (uint256 epoch)
    {
        if (root == bytes32(0)) revert EmptyRoot();
        if (total == 0) revert NothingToFund();
        // slither-disable-next-line timestamp (claim deadlines are days away; a validator shifting the timestamp by seconds changes nothing that matters)
        if (deadline <= block.timestamp) revert DeadlineNotInFuture(deadline);
        epoch = _epochs.length;
        _epochs.push(Epoch(root, valuation, total, 0, deadline, false));
        token.safeTransferFrom(msg.sender, address(this), total);
        emit EpochPublished(epoch, root, total, deadline, valuation);
    }

    /// @notice Pay `amount` to `account` for `epoch`, given the row's Merkle proof.
    function claim(uint256 epoch, address account, uint256 amount, bytes32[] calldata proof)
        external
        nonReentrant
    {
        Epoch storage e = _epoch(epoch);
        // slither-disable-next-line timestamp (the claim window is days long; a few seconds of timestamp drift at its edge are accepted by design)
        if (block.timestamp > e.deadline) revert ClaimWindowClosed(epoch, e.deadline);
        if (claimed[epoch][account]) revert AlreadyClaimed(epoch, account);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, amount))));
        if (!MerkleProof.verifyCalldata(proof, e.root, leaf)) revert InvalidProof();
        uint256 left = uint256(e.funded) - e.claimed;
        if (amount > left) revert ExceedsFunding(epoch, amount, left);
        claimed[epoch][account] = true;
        e.claimed += uint128(amount);
        token.safeTransfer(account, amount);
        emit Claimed(epoch, account, amount);
    }

    /// @notice After the deadline, send what was not claimed to `to`.
    function sweep(uint256 epoch, address to) external onlyOwner nonReentrant returns (uint256 amount) {
        Epoch storage e = _epoch(epoch);
        // slither-disable-next-line timestamp (the sweep waits for the end of a days-long window; seconds of drift at its edge are accepted by design)
        if (block.timestamp <= e.deadline) revert ClaimWindowOpen(epoch, e.deadline);
        if (e.swept) revert AlreadySwept(epoch);
        e.swept = true;
        amount = uint256(e.funded) - e.claimed;
        token.safeTransfer(to, amount);
        emit Swept(epoch, to, amount);
    }

    function epochCount() external view returns (uint256) {
        return _epochs.length;
    }

    function epochOf(uint256 epoch) external view returns (Epoch memory) {
        return _epoch(epoch);
    }

    function _epoch(uint256 epoch) private view returns (Epoch storage) {
        if (epoch >= _epochs.length) revert UnknownEpoch(epoch);
        return _epochs[epoch];
    }
}
