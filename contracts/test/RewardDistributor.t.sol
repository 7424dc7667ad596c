// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {RewardDistributor} from "../src/RewardDistributor.sol";
import {RewardToken} from "../src/RewardToken.sol";
import {Test} from "./utils/Test.sol";

/// @dev A four-row payout tree built the way OZ's StandardMerkleTree builds it (sorted pairs).
library PayoutTree {
    function leaf(address account, uint256 amount) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(account, amount))));
    }

    function pair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    /// @return root and the proof of each of the four leaves
    function build(bytes32[4] memory leaves) internal pure returns (bytes32 root, bytes32[][4] memory proofs) {
        bytes32 left = pair(leaves[0], leaves[1]);
        bytes32 right = pair(leaves[2], leaves[3]);
        root = pair(left, right);
        for (uint256 i = 0; i < 4; i++) {
            proofs[i] = new bytes32[](2);
            proofs[i][0] = leaves[i ^ 1];
            proofs[i][1] = i < 2 ? right : left;
        }
    }
}

contract RewardDistributorTest is Test {
    RewardToken internal token;
    RewardDistributor internal distributor;
    address internal owner = address(0xA11CE);
    address[4] internal accounts = [address(0x1001), address(0x1002), address(0x1003), address(0x1004)];
    uint256[4] internal amounts = [uint256(100), 250, 1, 649];
    bytes32 internal root;
    bytes32[][4] internal proofs;
    uint64 internal deadline;

    function setUp() public {
        vm.warp(1_000_000);
        token = new RewardToken("Data Reward", "DATA", owner);
        distributor = new RewardDistributor(token, owner);
        bytes32[4] memory leaves;
        for (uint256 i = 0; i < 4; i++) {
            leaves[i] = PayoutTree.leaf(accounts[i], amounts[i]);
        }
        (root, proofs) = PayoutTree.build(leaves);
        deadline = uint64(block.timestamp + 7 days);
        vm.startPrank(owner);
        token.mint(owner, 10_000);
        token.approve(address(distributor), type(uint256).max);
        distributor.publish(root, 1000, deadline, keccak256("valuation"));
        vm.stopPrank();
    }

    function test_publishFundsTheEpoch() public view {
        RewardDistributor.Epoch memory e = distributor.epochOf(0);
        vm.assertEq(e.root, root, "root");
        vm.assertEq(uint256(e.funded), 1000, "funded");
        vm.assertEq(token.balanceOf(address(distributor)), 1000, "balance");
        vm.assertEq(distributor.epochCount(), 1, "count");
    }

    function test_everyAccountClaimsOnce() public {
        for (uint256 i = 0; i < 4; i++) {
            distributor.claim(0, accounts[i], amounts[i], proofs[i]);
            vm.assertEq(token.balanceOf(accounts[i]), amounts[i], "paid");
        }
        vm.assertEq(uint256(distributor.epochOf(0).claimed), 1000, "claimed");
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.AlreadyClaimed.selector, 0, accounts[2]));
        distributor.claim(0, accounts[2], amounts[2], proofs[2]);
    }

    function test_aWrongAmountOrAccountIsRefused() public {
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.InvalidProof.selector));
        distributor.claim(0, accounts[0], amounts[0] + 1, proofs[0]);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.InvalidProof.selector));
        distributor.claim(0, accounts[1], amounts[0], proofs[0]);
    }

    function test_claimsCloseAtTheDeadlineAndTheRestIsSwept() public {
        distributor.claim(0, accounts[3], amounts[3], proofs[3]);
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.ClaimWindowOpen.selector, 0, deadline));
        distributor.sweep(0, owner);
        vm.warp(uint256(deadline) + 1);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.ClaimWindowClosed.selector, 0, deadline));
        distributor.claim(0, accounts[0], amounts[0], proofs[0]);
        uint256 before = token.balanceOf(owner);
        vm.prank(owner);
        vm.assertEq(distributor.sweep(0, owner), 1000 - amounts[3], "swept");
        vm.assertEq(token.balanceOf(owner) - before, 1000 - amounts[3], "owner paid back");
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.AlreadySwept.selector, 0));
        distributor.sweep(0, owner);
    }

    function test_onlyTheOwnerPublishesAndSweeps() public {
        vm.expectRevert(abi.encodeWithSignature("OwnableUnauthorizedAccount(address)", address(this)));
        distributor.publish(root, 1, deadline, bytes32(0));
        vm.warp(uint256(deadline) + 1);
        vm.expectRevert(abi.encodeWithSignature("OwnableUnauthorizedAccount(address)", address(this)));
        distributor.sweep(0, address(this));
    }

    function test_badEpochsAreRefused() public {
        vm.startPrank(owner);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.EmptyRoot.selector));
        distributor.publish(bytes32(0), 1, deadline, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.NothingToFund.selector));
        distributor.publish(root, 0, deadline, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.DeadlineNotInFuture.selector, uint64(block.timestamp)));
        distributor.publish(root, 1, uint64(block.timestamp), bytes32(0));
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.UnknownEpoch.selector, 7));
        distributor.claim(7, accounts[0], amounts[0], proofs[0]);
    }

    function test_anUnderfundedEpochCannotPayMoreThanItHolds() public {
        vm.prank(owner);
        uint256 epoch = distributor.publish(root, 300, deadline, bytes32(0)); // the rows sum to 1000
        distributor.claim(epoch, accounts[1], amounts[1], proofs[1]);
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.ExceedsFunding.selector, epoch, 649, 50));
        distributor.claim(epoch, accounts[3], amounts[3], proofs[3]);
    }

    function testFuzz_forgedClaimsFail(address account, uint256 amount, bytes32 sibling) public {
        vm.assume(account != accounts[0] || amount != amounts[0]);
        bytes32[] memory proof = new bytes32[](2);
        proof[0] = sibling;
        proof[1] = proofs[0][1];
        vm.expectRevert(abi.encodeWithSelector(RewardDistributor.InvalidProof.selector));
        distributor.claim(0, account, amount, proof);
    }
}

/// @dev Random claims (valid, repeated, forged), time jumps and sweeps over two epochs.
contract DistributorHandler is Test {
    RewardDistributor public immutable distributor;
    RewardToken public immutable token;
    address public immutable owner;
    address[4] internal accounts;
    uint256[4] internal amounts;
    bytes32[][4] internal proofs;
    uint256[2] public funded;
    uint256[2] public paid;
    mapping(uint256 => mapping(address => uint256)) public timesPaid;
    bool[2] public sweptEarly;

    constructor(
        RewardDistributor distributor_,
        RewardToken token_,
        address owner_,
        address[4] memory accounts_,
        uint256[4] memory amounts_,
        bytes32[][4] memory proofs_,
        uint256[2] memory funded_
    ) {
        distributor = distributor_;
        token = token_;
        owner = owner_;
        accounts = accounts_;
        amounts = amounts_;
        for (uint256 i = 0; i < 4; i++) {
            proofs[i] = proofs_[i];
        }
        funded = funded_;
    }

    function claim(uint256 epochSeed, uint256 who, bool forge) external {
        uint256 epoch = bound(epochSeed, 0, 1);
        uint256 i = bound(who, 0, 3);
        uint256 amount = forge ? amounts[i] + 1 : amounts[i];
        uint256 before = token.balanceOf(accounts[i]);
        try distributor.claim(epoch, accounts[i], amount, proofs[i]) {
            timesPaid[epoch][accounts[i]] += 1;
            paid[epoch] += token.balanceOf(accounts[i]) - before;
        } catch {}
    }

    function wait(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 0, 3 days));
    }

    function sweep(uint256 epochSeed) external {
        uint256 epoch = bound(epochSeed, 0, 1);
        uint64 deadline = distributor.epochOf(epoch).deadline;
        vm.prank(owner);
        try distributor.sweep(epoch, owner) {
            if (block.timestamp <= deadline) sweptEarly[epoch] = true;
        } catch {}
    }

    function account(uint256 i) external view returns (address) {
        return accounts[i];
    }
}

contract RewardDistributorInvariantTest is Test {
    DistributorHandler internal handler;
    RewardDistributor internal distributor;

    function setUp() public {
        vm.warp(1_000_000);
        address owner = address(0xA11CE);
        RewardToken token = new RewardToken("Data Reward", "DATA", owner);
        distributor = new RewardDistributor(token, owner);
        address[4] memory accounts = [address(0x1001), address(0x1002), address(0x1003), address(0x1004)];
        uint256[4] memory amounts = [uint256(100), 250, 1, 649];
        bytes32[4] memory leaves;
        for (uint256 i = 0; i < 4; i++) {
            leaves[i] = PayoutTree.leaf(accounts[i], amounts[i]);
        }
        (bytes32 root, bytes32[][4] memory proofs) = PayoutTree.build(leaves);
        uint256[2] memory funded = [uint256(1000), 400]; // the second epoch is underfunded
        vm.startPrank(owner);
        token.mint(owner, 1400);
        token.approve(address(distributor), 1400);
        distributor.publish(root, uint128(funded[0]), uint64(block.timestamp + 5 days), bytes32(0));
        distributor.publish(root, uint128(funded[1]), uint64(block.timestamp + 9 days), bytes32(0));
        vm.stopPrank();
        handler = new DistributorHandler(distributor, token, owner, accounts, amounts, proofs, funded);
        targetContract(address(handler));
    }

    function invariant_claimedNeverExceedsFunded() public view {
        for (uint256 epoch = 0; epoch < 2; epoch++) {
            RewardDistributor.Epoch memory e = distributor.epochOf(epoch);
            vm.assertTrue(e.claimed <= e.funded, "claimed more than funded");
            vm.assertEq(uint256(e.claimed), handler.paid(epoch), "claimed differs from what was paid");
        }
    }

    function invariant_noAccountIsPaidTwice() public view {
        for (uint256 epoch = 0; epoch < 2; epoch++) {
            for (uint256 i = 0; i < 4; i++) {
                vm.assertTrue(handler.timesPaid(epoch, handler.account(i)) <= 1, "paid twice");
            }
        }
    }

    function invariant_sweepOnlyAfterTheDeadline() public view {
        vm.assertFalse(handler.sweptEarly(0) || handler.sweptEarly(1), "swept before the deadline");
    }

    function invariant_tokensAreConserved() public view {
        uint256 out = 0;
        for (uint256 epoch = 0; epoch < 2; epoch++) {
            RewardDistributor.Epoch memory e = distributor.epochOf(epoch);
            out += e.claimed + (e.swept ? e.funded - e.claimed : 0);
        }
        vm.assertEq(distributor.token().balanceOf(address(distributor)), 1400 - out, "balance");
    }
}
