// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {InferenceOracle} from "../src/InferenceOracle.sol";
import {RewardToken} from "../src/RewardToken.sol";
import {SybilGatedAirdrop} from "../src/SybilGatedAirdrop.sol";
import {OracleFixture} from "./InferenceOracle.t.sol";

contract SybilGatedAirdropTest is OracleFixture {
    RewardToken internal token;
    SybilGatedAirdrop internal airdrop;
    address internal honest = address(0x1111);
    address internal sybil = address(0x2222);
    bytes32 internal leafHonest;
    bytes32 internal leafSybil;

    function setUp() public override {
        super.setUp();
        token = new RewardToken("Drop", "DROP", address(this));
        // threshold 0.5 at scale 2^12
        airdrop = new SybilGatedAirdrop(oracle, token, ZK, 100 ether, 2048, address(this));
        token.mint(address(airdrop), 150 ether);
        leafHonest = _leaf(honest, _input());
        leafSybil = _leaf(sybil, _input());
        airdrop.setFeaturesRoot(_pair(leafHonest, leafSybil));
        vm.deal(honest, 1 ether);
        vm.deal(sybil, 1 ether);
    }

    function _leaf(address account, int256[] memory features) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(account, features))));
    }

    function _pair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    function _proofFor(bytes32 sibling) internal pure returns (bytes32[] memory p) {
        p = new bytes32[](1);
        p[0] = sibling;
    }

    function _answer(uint256 id, int256 score) internal {
        bytes memory proof = _proof(_input(), _output(score));
        _commit(node, id, proof);
        vm.prank(node);
        oracle.fulfill(id, _input(), _output(score), proof);
    }

    function test_low_risk_claimant_is_paid() public {
        vm.prank(honest);
        uint256 id = airdrop.claim{value: FEE}(_input(), _proofFor(leafSybil));
        _answer(id, 300);
        vm.assertEq(token.balanceOf(honest), 100 ether, "paid");
        vm.assertEq(uint256(airdrop.claims(honest)), uint256(SybilGatedAirdrop.ClaimStatus.Paid), "status");
        vm.prank(honest);
        vm.expectRevert(
            abi.encodeWithSelector(SybilGatedAirdrop.AlreadyClaimed.selector, honest, SybilGatedAirdrop.ClaimStatus.Paid)
        );
        airdrop.claim{value: FEE}(_input(), _proofFor(leafSybil));
    }

    function test_high_risk_claimant_is_rejected() public {
        vm.prank(sybil);
        uint256 id = airdrop.claim{value: FEE}(_input(), _proofFor(leafHonest));
        _answer(id, 3900);
        vm.assertEq(token.balanceOf(sybil), 0, "not paid");
        vm.assertEq(uint256(airdrop.claims(sybil)), uint256(SybilGatedAirdrop.ClaimStatus.Rejected), "status");
    }

    function test_made_up_features_are_refused() public {
        int256[] memory fake = _input();
        fake[0] = 0;
        vm.prank(sybil);
        vm.expectRevert(abi.encodeWithSelector(SybilGatedAirdrop.NotEligible.selector, sybil));
        airdrop.claim{value: FEE}(fake, _proofFor(leafHonest));
    }

    function test_only_the_oracle_calls_back() public {
        vm.expectRevert(abi.encodeWithSelector(SybilGatedAirdrop.NotOracle.selector, address(this)));
        airdrop.onInference(1, _output(0));
    }

    function test_unfunded_claim_can_retry_and_refunded_claim_resets() public {
        vm.prank(honest);
        uint256 first = airdrop.claim{value: FEE}(_input(), _proofFor(leafSybil));
        _answer(first, 1);
        vm.prank(sybil);
        uint256 second = airdrop.claim{value: FEE}(_input(), _proofFor(leafHonest));
        _answer(second, 1); // only 50 tokens left
        vm.assertEq(uint256(airdrop.claims(sybil)), uint256(SybilGatedAirdrop.ClaimStatus.None), "may retry");
        vm.prank(sybil);
        uint256 third = airdrop.claim{value: FEE}(_input(), _proofFor(leafHonest));
        vm.roll(block.number + TIMEOUT + 1);
        oracle.refund(third);
        airdrop.reset(third);
        vm.assertEq(uint256(airdrop.claims(sybil)), uint256(SybilGatedAirdrop.ClaimStatus.None), "reset");
        vm.assertEq(oracle.balanceOf(address(airdrop)), 0, "nothing kept for the owner");
    }

    /// Finding: a refunded fee went to the airdrop's owner (collectRefunds), not the claimant.
    function test_a_refunded_fee_goes_back_to_the_claimant() public {
        vm.prank(sybil);
        uint256 id = airdrop.claim{value: FEE}(_input(), _proofFor(leafHonest));
        vm.assertEq(airdrop.pendingFees(), FEE, "fee owed while pending");
        vm.roll(block.number + TIMEOUT + 1);
        oracle.refund(id);
        airdrop.collectSurplus(payable(address(this))); // the owner cannot take it
        vm.assertEq(oracle.balanceOf(address(airdrop)), FEE, "still held for the claimant");
        uint256 before = sybil.balance;
        airdrop.reset(id); // anyone may reset; the refund goes to the claimant
        vm.assertEq(sybil.balance, before + FEE, "refund paid to the claimant");
        vm.assertEq(airdrop.pendingFees(), 0, "nothing owed");
        vm.expectRevert(abi.encodeWithSelector(SybilGatedAirdrop.UnknownRequest.selector, id));
        airdrop.reset(id);
    }

    /// Finding: a claim whose callback failed stayed pending forever.
    function test_a_claim_whose_callback_failed_can_be_reset() public {
        vm.prank(honest);
        uint256 id = airdrop.claim{value: FEE}(_input(), _proofFor(leafSybil));
        VmMock(address(vm)).mockCallRevert(
            address(token), abi.encodeWithSelector(token.transfer.selector), "paused"
        );
        _answer(id, 300); // the callback's transfer reverts: the request is answered anyway
        vm.assertEq(uint256(oracle.getRequest(id).status), uint256(InferenceOracle.Status.Fulfilled), "answered");
        vm.assertEq(uint256(airdrop.claims(honest)), uint256(SybilGatedAirdrop.ClaimStatus.Pending), "stuck");
        VmMock(address(vm)).clearMockedCalls();
        uint256 before = honest.balance;
        airdrop.reset(id);
        vm.assertEq(uint256(airdrop.claims(honest)), uint256(SybilGatedAirdrop.ClaimStatus.None), "may claim again");
        vm.assertEq(honest.balance, before, "the fee paid for an answer is not refunded");
        vm.prank(honest);
        uint256 again = airdrop.claim{value: FEE}(_input(), _proofFor(leafSybil));
        _answer(again, 300);
        vm.assertEq(token.balanceOf(honest), 100 ether, "paid on the second try");
    }
}

/// @dev Cheatcodes this test needs beyond the shared Vm interface.
interface VmMock {
    function mockCallRevert(address callee, bytes calldata data, bytes calldata revertData) external;
    function clearMockedCalls() external;
}
