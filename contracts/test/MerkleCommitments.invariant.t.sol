// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleCommitments} from "../src/MerkleCommitments.sol";
import {Test} from "./utils/Test.sol";

/// @dev The fuzzer calls this handler; it mirrors what the registry should hold.
contract CommitHandler is Test {
    MerkleCommitments public immutable registry;
    bytes32[] public roots;
    mapping(bytes32 => address) public firstCommitter;

    constructor(MerkleCommitments registry_) {
        registry = registry_;
    }

    function commit(uint256 rootSeed, uint256 senderSeed, uint64 leafCount) external {
        // a small root space makes repeated roots (which must revert) common
        bytes32 root = bytes32(bound(rootSeed, 0, 40));
        address sender = address(uint160(bound(senderSeed, 1, 5)));
        vm.prank(sender);
        try registry.commit(root, leafCount, "") {
            require(root != bytes32(0) && firstCommitter[root] == address(0), "accepted a bad commit");
            firstCommitter[root] = sender;
            roots.push(root);
        } catch {
            require(root == bytes32(0) || firstCommitter[root] != address(0), "refused a good commit");
        }
    }

    function rootCount() external view returns (uint256) {
        return roots.length;
    }
}

contract MerkleCommitmentsInvariantTest is Test {
    MerkleCommitments internal registry;
    CommitHandler internal handler;

    function setUp() public {
        registry = new MerkleCommitments();
        handler = new CommitHandler(registry);
        targetContract(address(handler));
    }

    function invariant_countEqualsDistinctRoots() public view {
        vm.assertEq(registry.commitmentCount(), handler.rootCount(), "count");
    }

    function invariant_committerNeverChanges() public view {
        uint256 n = handler.rootCount();
        for (uint256 i = 0; i < n; ++i) {
            bytes32 root = handler.roots(i);
            vm.assertEq(registry.commitmentOf(root).committer, handler.firstCommitter(root), "committer");
        }
    }

    function invariant_zeroRootNeverCommitted() public view {
        vm.assertFalse(registry.isCommitted(bytes32(0)), "zero root");
    }
}
