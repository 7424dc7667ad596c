// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

/// @title ProvenanceRegistry
/// @notice Append-only lineage of datasets, training runs, models and inference attestations.
///         Nothing can be overwritten or deleted; a newer record may declare that it
///         `supersedes` an older one of the same kind and creator.
/// @dev A record's id commits to every field (kind, content hash, creator, uri, parents,
///      supersedes), so storage keeps one packed slot per record and the fields travel in the
///      RecordRegistered event: anyone holding the fields can recompute the id and check it.
///      A signed registration names its creator: an ERC-1271 wallet that accepts its owner key's
///      signature over any digest would otherwise accept a registration meant for another
///      wallet of the same owner (same record, same nonce).
contract ProvenanceRegistry is EIP712, Nonces {
    enum Kind {
        Dataset,
        TrainingRun,
        Model,
        Inference
    }

    /// @notice What a creator registers.
    struct RecordInput {
        Kind kind;
        bytes32 contentHash; // a file hash or a Merkle root
        string uri;
        bytes32[] parents; // record ids: run → datasets, model → run, inference → model
        bytes32 supersedes; // a record id, or zero
    }

    /// @notice What the chain keeps of a record (one storage slot).
    struct Record {
        address creator;
        Kind kind;
        uint64 registeredAt;
    }

    bytes32 public constant REGISTER_TYPEHASH = keccak256(
        "Register(address creator,uint8 kind,bytes32 contentHash,string uri,bytes32[] parents,bytes32 supersedes,uint256 nonce,uint256 deadline)"
    );

    error EmptyContentHash();
    error EmptyBatch();
    error RecordExists(bytes32 id);
    error UnknownRecord(bytes32 id);
    error UnknownParent(bytes32 parent);
    error ParentKindNotAllowed(Kind kind, bytes32 parent, Kind parentKind);
    error InferenceNeedsModel();
    error CannotSupersede(bytes32 superseded);
    error ExpiredSignature(uint256 deadline);
    error InvalidSignature(address creator);

    event RecordRegistered(
        bytes32 indexed id,
        Kind indexed kind,
        address indexed creator,
        bytes32 contentHash,
        string uri,
        bytes32[] parents,
        bytes32 supersedes
    );
    /// @notice `owner` gave up the unused signatures made with `nonce` (see useNonce).
    event NonceCancelled(address indexed owner, uint256 nonce);

    mapping(bytes32 id => Record) private _records;
    uint256 private _count;

    constructor() EIP712("proofmind ProvenanceRegistry", "1") {}

    /// @notice Register a record created by the caller.
    function register(RecordInput calldata input) external returns (bytes32 id) {
        return _register(input, msg.sender);
    }

    /// @notice Register many records created by the caller in one transaction. Records may
    ///         name earlier records of the same batch as parents.
    function registerBatch(RecordInput[] calldata inputs) external returns (bytes32[] memory ids) {
        if (inputs.length == 0) revert EmptyBatch();
        ids = new bytes32[](inputs.length);
        for (uint256 i = 0; i < inputs.length; ++i) {
            ids[i] = _register(inputs[i], msg.sender);
        }
    }

    /// @notice Register a record for `creator`, who signed it (EIP-712; EOAs and ERC-1271
    ///         wallets). Anyone may relay. The nonce makes every signature usable once.
    function registerFor(RecordInput calldata input, address creator, uint256 deadline, bytes calldata signature)
        external
        returns (bytes32 id)
    {
        // slither-disable-next-line timestamp (a signature deadline is hours or days away; the seconds a validator can shift the timestamp do not matter)
        if (block.timestamp > deadline) revert ExpiredSignature(deadline);
        bytes32 digest = _hashTypedDataV4(_structHash(input, creator, _useNonce(creator), deadline));
        if (!SignatureChecker.isValidSignatureNow(creator, digest, signature)) revert InvalidSignature(creator);
        return _register(input, creator);
    }

    /// @notice The EIP-712 digest `creator` signs to register `input` with `nonce`.
    function registerDigest(RecordInput calldata input, address creator, uint256 nonce, uint256 deadline)
        external
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(_structHash(input, creator, nonce, deadline));
    }

    /// @notice Give up your current nonce: a registration signed with it that was never relayed
    ///         can no longer be used, and the next signature takes the next nonce.
    /// @return nonce The nonce cancelled.
    function useNonce() external returns (uint256 nonce) {
        nonce = _useNonce(msg.sender);
        emit NonceCancelled(msg.sender, nonce);
    }

    /// @notice The id of a record: a commitment to all of its fields.
    function recordId(RecordInput calldata input, address creator) public pure returns (bytes32) {
        return keccak256(
            abi.encode(
                input.kind,
                input.contentHash,
                creator,
                keccak256(bytes(input.uri)),
                keccak256(abi.encodePacked(input.parents)),
                input.supersedes
            )
        );
    }

    /// @notice Whether a record with this id exists.
    function exists(bytes32 id) public view returns (bool) {
        // slither-disable-next-line timestamp (false positive: a record struct holds a timestamp, but this compares its creator)
        return _records[id].creator != address(0);
    }

    /// @notice The stored part of a record; reverts UnknownRecord.
    function recordOf(bytes32 id) external view returns (Record memory) {
        if (!exists(id)) revert UnknownRecord(id);
        return _records[id];
    }

    /// @notice How many records exist.
    function recordCount() external view returns (uint256) {
        return _count;
    }

    /// @notice The EIP-712 domain separator of this registry on this chain.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function _register(RecordInput calldata input, address creator) private returns (bytes32 id) {
        if (input.contentHash == bytes32(0)) revert EmptyContentHash();
        id = recordId(input, creator);
        if (_records[id].creator != address(0)) revert RecordExists(id);
        _checkParents(input);
        if (input.supersedes != bytes32(0)) {
            Record storage old = _records[input.supersedes];
            if (old.creator != creator || old.kind != input.kind) revert CannotSupersede(input.supersedes);
        }
        _records[id] = Record({creator: creator, kind: input.kind, registeredAt: uint64(block.timestamp)});
        unchecked {
            // slither-disable-next-line costly-loop (one warm SSTORE (100 gas) per record of a batch that costs ~34k gas per record; a separate batch counter is not worth the code)
            ++_count;
        }
        emit RecordRegistered(id, input.kind, creator, input.contentHash, input.uri, input.parents, input.supersedes);
    }

    /// @dev Allowed parent kinds: dataset ← datasets; run ← datasets, models (fine-tuning);
    ///      model ← runs, models (derived, e.g. quantised); inference ← one or more models.
    function _checkParents(RecordInput calldata input) private view {
        uint256 allowed;
        if (input.kind == Kind.Dataset) allowed = 1 << uint8(Kind.Dataset);
        else if (input.kind == Kind.TrainingRun) allowed = (1 << uint8(Kind.Dataset)) | (1 << uint8(Kind.Model));
        else if (input.kind == Kind.Model) allowed = (1 << uint8(Kind.TrainingRun)) | (1 << uint8(Kind.Model));
        else allowed = 1 << uint8(Kind.Model);
        if (input.kind == Kind.Inference && input.parents.length == 0) revert InferenceNeedsModel();
        for (uint256 i = 0; i < input.parents.length; ++i) {
            Record storage parent = _records[input.parents[i]];
            if (parent.creator == address(0)) revert UnknownParent(input.parents[i]);
            if (allowed & (1 << uint8(parent.kind)) == 0) {
                revert ParentKindNotAllowed(input.kind, input.parents[i], parent.kind);
            }
        }
    }

    function _structHash(RecordInput calldata input, address creator, uint256 nonce, uint256 deadline)
        private
        pure
        returns (bytes32)
    {
        return keccak256(
            abi.encode(
                REGISTER_TYPEHASH,
                creator,
                input.kind,
                input.contentHash,
                keccak256(bytes(input.uri)),
                keccak256(abi.encodePacked(input.parents)),
                input.supersedes,
                nonce,
                deadline
            )
        );
    }
}
