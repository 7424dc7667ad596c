// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title MerkleCommitments
/// @notice Public, append-only registry of dataset commitments (Merkle roots) against which
///         anyone can prove that a row belongs to a committed dataset.
/// @dev Leaves follow OpenZeppelin's StandardMerkleTree:
///      leaf = keccak256(bytes.concat(keccak256(abi.encode(values...)))).
///      The double hash keeps a 64-byte leaf preimage from being read as an inner node.
contract MerkleCommitments {
    /// @notice What is known about a committed root.
    struct Commitment {
        address committer;
        uint64 committedAt;
        uint64 blockNumber;
        uint64 leafCount;
        string uri;
    }

    /// @notice The zero root commits to nothing and is refused.
    error EmptyRoot();
    /// @notice The root was committed before; the first committer keeps it.
    error RootAlreadyCommitted(bytes32 root, address committer);
    /// @notice No commitment exists for this root.
    error UnknownRoot(bytes32 root);
    /// @notice The proof does not lead from the row's leaf to the root.
    error InvalidProof(bytes32 root, bytes32 leaf);

    /// @notice A new dataset root was committed.
    event RootCommitted(bytes32 indexed root, address indexed committer, uint64 leafCount, string uri);
    /// @notice A row was proved to belong to a committed root, on the record.
    event RowAttested(bytes32 indexed root, bytes32 indexed leaf, address indexed attester);

    mapping(bytes32 root => Commitment) private _commitments;
    uint256 private _count;

    /// @notice Commit a Merkle root of `leafCount` rows described at `uri`.
    /// @dev First committer wins; a root is never overwritten. The committer is whoever sent
    ///      the first transaction, not necessarily who built the dataset: a root is public once
    ///      it is in the mempool, so anyone can copy it and commit it first. Read `committer` as
    ///      "first to publish on this chain", never as authorship; authorship is the
    ///      ProvenanceRegistry record its creator registered or signed (`registerFor`).
    function commit(bytes32 root, uint64 leafCount, string calldata uri) external {
        if (root == bytes32(0)) revert EmptyRoot();
        Commitment storage existing = _commitments[root];
        if (existing.committer != address(0)) revert RootAlreadyCommitted(root, existing.committer);
        _commitments[root] = Commitment({
            committer: msg.sender,
            committedAt: uint64(block.timestamp),
            blockNumber: uint64(block.number),
            leafCount: leafCount,
            uri: uri
        });
        unchecked {
            ++_count;
        }
        emit RootCommitted(root, msg.sender, leafCount, uri);
    }

    /// @notice Whether `root` has been committed.
    function isCommitted(bytes32 root) public view returns (bool) {
        // slither-disable-next-line timestamp (false positive: a commitment struct holds a timestamp, but this compares its committer)
        return _commitments[root].committer != address(0);
    }

    /// @notice The commitment of `root`; reverts with UnknownRoot if there is none.
    function commitmentOf(bytes32 root) external view returns (Commitment memory) {
        _requireCommitted(root);
        return _commitments[root];
    }

    /// @notice How many distinct roots have been committed.
    function commitmentCount() external view returns (uint256) {
        return _count;
    }

    /// @notice The StandardMerkleTree leaf of an ABI-encoded row.
    function leafOf(bytes calldata encodedRow) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(encodedRow)));
    }

    /// @notice Whether `encodedRow` is in the committed dataset `root`, given its proof.
    function verifyRow(bytes32 root, bytes calldata encodedRow, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        _requireCommitted(root);
        return MerkleProof.verifyCalldata(proof, root, leafOf(encodedRow));
    }

    /// @notice Whether all `encodedRows` are in `root`, given an OpenZeppelin multiproof.
    /// @dev Rows must be in the order of the multiproof's leaves.
    function verifyRows(
        bytes32 root,
        bytes[] calldata encodedRows,
        bytes32[] calldata proof,
        bool[] calldata proofFlags
    ) external view returns (bool) {
        _requireCommitted(root);
        bytes32[] memory leaves = new bytes32[](encodedRows.length);
        for (uint256 i = 0; i < encodedRows.length; ++i) {
            leaves[i] = leafOf(encodedRows[i]);
        }
        return MerkleProof.multiProofVerifyCalldata(proof, proofFlags, root, leaves);
    }

    /// @notice Prove on the record that `encodedRow` belongs to `root`.
    /// @return leaf The row's leaf, as emitted in RowAttested.
    function attestRow(bytes32 root, bytes calldata encodedRow, bytes32[] calldata proof)
        external
        returns (bytes32 leaf)
    {
        _requireCommitted(root);
        leaf = leafOf(encodedRow);
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert InvalidProof(root, leaf);
        emit RowAttested(root, leaf, msg.sender);
    }

    function _requireCommitted(bytes32 root) private view {
        if (!isCommitted(root)) revert UnknownRoot(root);
    }
}
