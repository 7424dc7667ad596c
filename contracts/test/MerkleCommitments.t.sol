// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleCommitments} from "../src/MerkleCommitments.sol";
import {Test} from "./utils/Test.sol";

/// @dev Builds OpenZeppelin StandardMerkleTree-style trees in Solidity: double-hashed leaves,
///      sorted-pair inner nodes, array-form complete tree (leaves from the end).
library TreeBuilder {
    function leaf(bytes memory encodedRow) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(encodedRow)));
    }

    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    /// @return tree the array-form tree; leaf i sits at tree.length - 1 - i
    function build(bytes32[] memory leaves) internal pure returns (bytes32[] memory tree) {
        tree = new bytes32[](2 * leaves.length - 1);
        for (uint256 i = 0; i < leaves.length; ++i) {
            tree[tree.length - 1 - i] = leaves[i];
        }
        // the n - 1 inner nodes sit at 0 .. n - 2; fill them bottom-up
        for (uint256 k = leaves.length - 1; k > 0; --k) {
            uint256 node = k - 1;
            tree[node] = hashPair(tree[2 * node + 1], tree[2 * node + 2]);
        }
    }

    function proof(bytes32[] memory tree, uint256 leafIndex) internal pure returns (bytes32[] memory) {
        uint256 node = tree.length - 1 - leafIndex;
        uint256 depth = 0;
        for (uint256 n = node; n > 0; n = (n - 1) / 2) depth++;
        bytes32[] memory path = new bytes32[](depth);
        for (uint256 k = 0; node > 0; k++) {
            uint256 sibling = node % 2 == 1 ? node + 1 : node - 1;
            path[k] = tree[sibling];
            node = (node - 1) / 2;
        }
        return path;
    }
}

contract MerkleCommitmentsTest is Test {
    MerkleCommitments internal registry;
    address internal constant ALICE = address(0xA11CE);
    address internal constant BOB = address(0xB0B);

    event RootCommitted(bytes32 indexed root, address indexed committer, uint64 leafCount, string uri);
    event RowAttested(bytes32 indexed root, bytes32 indexed leaf, address indexed attester);

    function setUp() public {
        registry = new MerkleCommitments();
    }

    function _rows(uint256 n) internal pure returns (bytes[] memory rows, bytes32[] memory leaves) {
        rows = new bytes[](n);
        leaves = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            rows[i] = abi.encode(address(uint160(0x1000 + i)), i * 7 + 1);
            leaves[i] = TreeBuilder.leaf(rows[i]);
        }
    }

    function test_commitRecordsEverything() public {
        vm.warp(1_700_000_000);
        vm.roll(42);
        vm.expectEmit(true, true, false, true);
        emit RootCommitted(bytes32(uint256(1)), ALICE, 9, "ipfs://x");
        vm.prank(ALICE);
        registry.commit(bytes32(uint256(1)), 9, "ipfs://x");
        MerkleCommitments.Commitment memory c = registry.commitmentOf(bytes32(uint256(1)));
        vm.assertEq(c.committer, ALICE, "committer");
        vm.assertEq(c.committedAt, 1_700_000_000, "time");
        vm.assertEq(c.blockNumber, 42, "block");
        vm.assertEq(c.leafCount, 9, "leaf count");
        vm.assertEq(c.uri, "ipfs://x", "uri");
        vm.assertEq(registry.commitmentCount(), 1, "count");
        vm.assertTrue(registry.isCommitted(bytes32(uint256(1))), "committed");
    }

    function test_duplicateCommitRevertsWithFirstCommitter() public {
        vm.prank(ALICE);
        registry.commit(bytes32(uint256(5)), 1, "");
        vm.expectRevert(
            abi.encodeWithSelector(MerkleCommitments.RootAlreadyCommitted.selector, bytes32(uint256(5)), ALICE)
        );
        vm.prank(BOB);
        registry.commit(bytes32(uint256(5)), 2, "other");
    }

    function test_emptyRootReverts() public {
        vm.expectRevert(abi.encodeWithSelector(MerkleCommitments.EmptyRoot.selector));
        registry.commit(bytes32(0), 1, "");
    }

    function test_unknownRootReverts() public {
        bytes32[] memory proof = new bytes32[](0);
        vm.expectRevert(abi.encodeWithSelector(MerkleCommitments.UnknownRoot.selector, bytes32(uint256(7))));
        registry.verifyRow(bytes32(uint256(7)), "", proof);
        vm.expectRevert(abi.encodeWithSelector(MerkleCommitments.UnknownRoot.selector, bytes32(uint256(7))));
        registry.commitmentOf(bytes32(uint256(7)));
    }

    function test_proofsOfSmallTrees() public {
        for (uint256 n = 1; n <= 4; ++n) {
            (bytes[] memory rows, bytes32[] memory leaves) = _rows(n);
            bytes32[] memory tree = TreeBuilder.build(leaves);
            registry.commit(tree[0], uint64(n), "");
            for (uint256 i = 0; i < n; ++i) {
                bytes32[] memory proof = TreeBuilder.proof(tree, i);
                vm.assertTrue(registry.verifyRow(tree[0], rows[i], proof), "verifyRow");
                vm.assertEq(registry.attestRow(tree[0], rows[i], proof), leaves[i], "attested leaf");
            }
        }
    }

    function test_attestEmits() public {
        (bytes[] memory rows, bytes32[] memory leaves) = _rows(3);
        bytes32[] memory tree = TreeBuilder.build(leaves);
        registry.commit(tree[0], 3, "");
        vm.expectEmit(true, true, true, true);
        emit RowAttested(tree[0], leaves[1], BOB);
        vm.prank(BOB);
        registry.attestRow(tree[0], rows[1], TreeBuilder.proof(tree, 1));
    }

    function test_invalidProofReverts() public {
        (bytes[] memory rows, bytes32[] memory leaves) = _rows(4);
        bytes32[] memory tree = TreeBuilder.build(leaves);
        registry.commit(tree[0], 4, "");
        bytes memory forged = abi.encode(address(0xBAD), uint256(1));
        bytes32[] memory proof = TreeBuilder.proof(tree, 0);
        vm.assertFalse(registry.verifyRow(tree[0], forged, proof), "forged row");
        vm.assertFalse(registry.verifyRow(tree[0], rows[1], proof), "wrong proof");
        vm.expectRevert(
            abi.encodeWithSelector(MerkleCommitments.InvalidProof.selector, tree[0], TreeBuilder.leaf(forged))
        );
        registry.attestRow(tree[0], forged, proof);
    }

    function test_multiproofOfTwoLeaves() public {
        (bytes[] memory rows, bytes32[] memory leaves) = _rows(2);
        bytes32[] memory tree = TreeBuilder.build(leaves);
        registry.commit(tree[0], 2, "");
        // both leaves, no extra proof hashes: one flag saying "hash the two leaves together"
        bytes[] memory both = new bytes[](2);
        (both[0], both[1]) = (rows[0], rows[1]);
        bool[] memory flags = new bool[](1);
        flags[0] = true;
        vm.assertTrue(registry.verifyRows(tree[0], both, new bytes32[](0), flags), "multiproof");
        both[1] = abi.encode(address(0xBAD), uint256(0));
        vm.assertFalse(registry.verifyRows(tree[0], both, new bytes32[](0), flags), "tampered");
    }

    function testFuzz_proofVerifiesAndTamperingFails(uint256 n, uint256 index, uint256 salt, uint256 delta) public {
        n = bound(n, 1, 33);
        index = bound(index, 0, n - 1);
        bytes[] memory rows = new bytes[](n);
        bytes32[] memory leaves = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            rows[i] = abi.encode(address(uint160(uint256(keccak256(abi.encode(salt, i))))), salt ^ i);
            leaves[i] = TreeBuilder.leaf(rows[i]);
        }
        bytes32[] memory tree = TreeBuilder.build(leaves);
        registry.commit(tree[0], uint64(n), "");
        bytes32[] memory proof = TreeBuilder.proof(tree, index);
        vm.assertTrue(registry.verifyRow(tree[0], rows[index], proof), "valid proof");
        vm.assume(delta != 0);
        bytes memory tampered = abi.encode(
            address(uint160(uint256(keccak256(abi.encode(salt, index))))), (salt ^ index) ^ delta
        );
        vm.assertFalse(registry.verifyRow(tree[0], tampered, proof), "tampered row");
    }

    function testFuzz_commitAnyNonZeroRoot(bytes32 root, address who, uint64 leafCount) public {
        vm.assume(root != bytes32(0) && who != address(0));
        vm.prank(who);
        registry.commit(root, leafCount, "u");
        vm.assertEq(registry.commitmentOf(root).committer, who, "committer");
        vm.assertEq(registry.commitmentOf(root).leafCount, leafCount, "leaf count");
    }
}
