// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title ContributionRegistry
/// @notice Where data contributors withdraw consent. A contribution is an EIP-712 message a
///         contributor signs off-chain (dataset, rows root, licence, consent, expiry, nonce);
///         its id is the EIP-712 digest. The contributor — or anyone relaying the
///         contributor's signed revocation — marks it revoked here; nothing can un-revoke it.
/// @dev A signed revocation names its contributor: an ERC-1271 wallet that accepts its owner
///      key's signature over any digest would otherwise accept a revocation meant for another
///      wallet of the same owner (same contribution id, same nonce).
contract ContributionRegistry is EIP712, Nonces {
    bytes32 public constant CONTRIBUTION_TYPEHASH = keccak256(
        "Contribution(bytes32 datasetId,bytes32 rowsRoot,uint256 rowCount,bytes32 licence,bool consent,uint64 expiry,uint256 nonce)"
    );
    bytes32 public constant REVOKE_TYPEHASH =
        keccak256("Revoke(address contributor,bytes32 contribution,uint256 nonce,uint256 deadline)");

    mapping(address contributor => mapping(bytes32 contribution => uint256 revokedAt)) public revokedAt;

    event Revoked(address indexed contributor, bytes32 indexed contribution, uint256 timestamp);
    /// @notice `owner` gave up the unused signatures made with `nonce` (see useNonce).
    event NonceCancelled(address indexed owner, uint256 nonce);

    error AlreadyRevoked(address contributor, bytes32 contribution);
    error ExpiredSignature(uint256 deadline);
    error InvalidSignature(address contributor);

    constructor() EIP712("proofmind Contributions", "1") {}

    /// @notice The id of a contribution: the EIP-712 digest the contributor signed.
    function contributionId(
        bytes32 datasetId,
        bytes32 rowsRoot,
        uint256 rowCount,
        bytes32 licence,
        bool consent,
        uint64 expiry,
        uint256 nonce
    ) external view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    CONTRIBUTION_TYPEHASH, datasetId, rowsRoot, rowCount, licence, consent, expiry, nonce
                )
            )
        );
    }

    /// @notice Withdraw consent for one of your contributions.
    function revoke(bytes32 contribution) external {
        _revoke(msg.sender, contribution);
    }

    /// @notice Relay `contributor`'s signed revocation (the relayer pays the gas).
    function revokeFor(address contributor, bytes32 contribution, uint256 deadline, bytes calldata signature)
        external
    {
        // slither-disable-next-line timestamp (a signature deadline is hours or days away; the seconds a validator can shift the timestamp do not matter)
        if (block.timestamp > deadline) revert ExpiredSignature(deadline);
        bytes32 digest = revokeDigest(contributor, contribution, _useNonce(contributor), deadline);
        if (!SignatureChecker.isValidSignatureNow(contributor, digest, signature)) {
            revert InvalidSignature(contributor);
        }
        _revoke(contributor, contribution);
    }

    /// @notice The EIP-712 digest `contributor` signs to let anyone revoke `contribution`.
    function revokeDigest(address contributor, bytes32 contribution, uint256 nonce, uint256 deadline)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(REVOKE_TYPEHASH, contributor, contribution, nonce, deadline)));
    }

    /// @notice Give up your current nonce: a revocation signed with it that was never relayed
    ///         can no longer be used, and the next signature takes the next nonce.
    /// @return nonce The nonce cancelled.
    function useNonce() external returns (uint256 nonce) {
        nonce = _useNonce(msg.sender);
        emit NonceCancelled(msg.sender, nonce);
    }

    function isRevoked(address contributor, bytes32 contribution) external view returns (bool) {
        return revokedAt[contributor][contribution] != 0;
    }

    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function _revoke(address contributor, bytes32 contribution) private {
        if (revokedAt[contributor][contribution] != 0) revert AlreadyRevoked(contributor, contribution);
        revokedAt[contributor][contribution] = block.timestamp;
        emit Revoked(contributor, contribution, block.timestamp);
    }
}
