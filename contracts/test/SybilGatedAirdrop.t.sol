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

    // ------------------------------------------------------------------ flagged list, appeals

    address internal constant TOP = address(type(uint160).max);

    event FlaggedListSet(bytes32 indexed flaggedRoot, bytes32 exclusionRoot, bytes32 indexed previous);

    function _gap(address low, address high) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(low, high))));
    }

    /// The exclusion tree of one flagged address f: gaps (0, f) and (f, TOP).
    function _listOf(address f) internal pure returns (bytes32 root, bytes32 below, bytes32 above) {
        below = _gap(address(0), f);
        above = _gap(f, TOP);
        root = _pair(below, above);
    }

    function test_a_flagged_address_cannot_claim_until_an_appeal_lifts_it() public {
        (bytes32 root, bytes32 below, bytes32 above) = _listOf(sybil);
        vm.expectEmit(true, true, true, true);
        emit FlaggedListSet(keccak256("report"), root, bytes32(0));
        airdrop.setFlaggedList(keccak256("report"), root);
        // the sybil is in no gap: neither neighbour proof helps it
        vm.startPrank(sybil);
        vm.expectRevert(abi.encodeWithSelector(SybilGatedAirdrop.Flagged.selector, sybil));
        airdrop.claimUnflagged{value: FEE}(_input(), _proofFor(leafHonest), address(0), sybil, _proofFor(above));
        vm.expectRevert(abi.encodeWithSelector(SybilGatedAirdrop.Flagged.selector, sybil));
        airdrop.claimUnflagged{value: FEE}(_input(), _proofFor(leafHonest), sybil, TOP, _proofFor(below));
        vm.expectRevert(SybilGatedAirdrop.FlaggedListSetUseClaimUnflagged.selector);
        airdrop.claim{value: FEE}(_input(), _proofFor(leafHonest));
        vm.stopPrank();
        // the honest address (0x1111 < 0x2222) proves it sits in the gap (0, sybil)
        vm.prank(honest);
        uint256 id = airdrop.claimUnflagged{value: FEE}(
            _input(), _proofFor(leafSybil), address(0), sybil, _proofFor(above)
        );
        _answer(id, 300);
        vm.assertEq(token.balanceOf(honest), 100 ether, "unflagged claimant paid");
        // an accepted appeal empties the list: one gap (0, TOP)
        bytes32 empty = _gap(address(0), TOP);
        vm.expectEmit(true, true, true, true);
        emit FlaggedListSet(keccak256("appealed"), empty, keccak256("report"));
        airdrop.setFlaggedList(keccak256("appealed"), empty);
        vm.prank(sybil);
        uint256 second = airdrop.claimUnflagged{value: FEE}(
            _input(), _proofFor(leafHonest), address(0), TOP, new bytes32[](0)
        );
        vm.assertEq(uint256(airdrop.claims(sybil)), uint256(SybilGatedAirdrop.ClaimStatus.Pending), "claimed");
        vm.assertEq(airdrop.claimantOf(second), sybil, "request is the sybil's");
    }

    function test_only_the_owner_sets_the_flagged_list() public {
        vm.prank(sybil);
        vm.expectRevert(abi.encodeWithSignature("OwnableUnauthorizedAccount(address)", sybil));
        airdrop.setFlaggedList(keccak256("a"), keccak256("b"));
    }

    function test_a_flagged_list_needs_both_roots_or_neither() public {
        vm.expectRevert(SybilGatedAirdrop.InvalidFlaggedList.selector);
        airdrop.setFlaggedList(keccak256("a"), bytes32(0));
        vm.expectRevert(SybilGatedAirdrop.InvalidFlaggedList.selector);
        airdrop.setFlaggedList(bytes32(0), keccak256("b"));
        airdrop.setFlaggedList(keccak256("a"), keccak256("b"));
        airdrop.setFlaggedList(bytes32(0), bytes32(0)); // lifted: plain claims again
        vm.prank(honest);
        airdrop.claim{value: FEE}(_input(), _proofFor(leafSybil));
    }

    /// Three flagged addresses, four gaps: an address is provably unflagged iff it is not one
    /// of the three, and then exactly by the gap it falls in.
    function testFuzz_exclusion_proofs_admit_exactly_the_unflagged(uint160 a, uint160 b, uint160 c, address x)
        public
    {
        a = uint160(bound(a, 1, type(uint160).max - 3));
        b = uint160(bound(b, a + 1, type(uint160).max - 2));
        c = uint160(bound(c, b + 1, type(uint160).max - 1));
        address[5] memory ends = [address(0), address(a), address(b), address(c), TOP];
        bytes32[4] memory leaves;
        for (uint256 i = 0; i < 4; i++) {
            leaves[i] = _gap(ends[i], ends[i + 1]);
        }
        bytes32 left = _pair(leaves[0], leaves[1]);
        bytes32 right = _pair(leaves[2], leaves[3]);
        airdrop.setFlaggedList(keccak256("list"), _pair(left, right));
        bool flagged = x == ends[1] || x == ends[2] || x == ends[3];
        uint256 admitted;
        for (uint256 i = 0; i < 4; i++) {
            bytes32[] memory proof = new bytes32[](2);
            proof[0] = leaves[i ^ 1];
            proof[1] = i < 2 ? right : left;
            if (airdrop.isUnflagged(x, ends[i], ends[i + 1], proof)) admitted++;
            // a leaf that is not in the tree never passes, whatever its range
            vm.assertFalse(airdrop.isUnflagged(x, address(0), TOP, proof), "forged gap");
        }
        uint256 expected = flagged || x == address(0) || x == TOP ? 0 : 1;
        vm.assertEq(admitted, expected, "admitted by exactly the gap it falls in");
    }
}

/// @dev Cheatcodes this test needs beyond the shared Vm interface.
interface VmMock {
    function mockCallRevert(address callee, bytes calldata data, bytes calldata revertData) external;
    function clearMockedCalls() external;
}
