// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IGovernor} from "@openzeppelin/contracts/governance/IGovernor.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";
import {ProofmindGovernor} from "../src/ProofmindGovernor.sol";
import {ProofmindVotes} from "../src/ProofmindVotes.sol";
import {Test} from "./utils/Test.sol";

contract ProofmindGovernorTest is Test {
    ProofmindVotes internal token;
    ProofmindGovernor internal governor;
    address internal alice = address(0xA11CE);
    address internal bob = address(0xB0B);
    address internal carol = address(0xCA401);

    function setUp() public {
        vm.warp(1_700_000_000);
        token = new ProofmindVotes("Votes", "PMV", address(this));
        governor = new ProofmindGovernor(IVotes(address(token)), 1, 1 days, 4);
        token.mint(alice, 600e18);
        token.mint(bob, 300e18);
        token.mint(carol, 100e18);
        token.mint(address(governor), 1_000e18); // the treasury
        vm.prank(alice);
        token.delegate(alice);
        vm.prank(bob);
        token.delegate(bob);
        vm.prank(carol);
        token.delegate(carol);
        vm.warp(block.timestamp + 1);
    }

    function _payCarol() internal returns (uint256 id, address[] memory t, uint256[] memory v, bytes[] memory c) {
        t = new address[](1);
        v = new uint256[](1);
        c = new bytes[](1);
        t[0] = address(token);
        c[0] = abi.encodeCall(token.transfer, (carol, 50e18));
        vm.prank(carol);
        id = governor.propose(t, v, c, "# Pay carol\n\nFor the audit.");
    }

    function test_clockIsTimestamp() public view {
        vm.assertEq(governor.CLOCK_MODE(), "mode=timestamp", "clock mode");
        vm.assertEq(uint256(governor.clock()), block.timestamp, "clock");
    }

    function test_passesAndExecutesTreasuryTransfer() public {
        (uint256 id, address[] memory t, uint256[] memory v, bytes[] memory c) = _payCarol();
        vm.assertEq(governor.proposalDeadline(id), block.timestamp + 1 + 1 days, "deadline is a time");
        vm.warp(block.timestamp + 2);
        vm.prank(alice);
        governor.castVote(id, 1);
        vm.prank(bob);
        governor.castVote(id, 0);
        vm.warp(block.timestamp + 1 days);
        vm.assertTrue(governor.state(id) == IGovernor.ProposalState.Succeeded, "succeeded");
        governor.execute(t, v, c, keccak256(bytes("# Pay carol\n\nFor the audit.")));
        vm.assertEq(token.balanceOf(carol), 150e18, "carol paid");
        vm.assertTrue(governor.state(id) == IGovernor.ProposalState.Executed, "executed");
    }

    function test_lateWhaleDefeats() public {
        (uint256 id,,,) = _payCarol();
        vm.warp(block.timestamp + 2);
        vm.prank(bob);
        governor.castVote(id, 1);
        vm.warp(block.timestamp + 1 days - 60);
        vm.prank(alice);
        governor.castVote(id, 0);
        vm.warp(block.timestamp + 120);
        vm.assertTrue(governor.state(id) == IGovernor.ProposalState.Defeated, "defeated");
    }

    function test_votesCannotBeCastTwice() public {
        (uint256 id,,,) = _payCarol();
        vm.warp(block.timestamp + 2);
        vm.startPrank(alice);
        governor.castVote(id, 1);
        vm.expectRevert(abi.encodeWithSelector(IGovernor.GovernorAlreadyCastVote.selector, alice));
        governor.castVote(id, 1);
        vm.stopPrank();
    }

    function testFuzz_quorumIsShareOfSupply(uint96 extra) public {
        token.mint(address(this), extra);
        vm.warp(block.timestamp + 1);
        uint256 supply = token.totalSupply();
        vm.assertEq(governor.quorum(block.timestamp - 1), (supply * 4) / 100, "4% of supply");
    }
}
