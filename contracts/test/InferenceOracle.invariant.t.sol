// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {InferenceOracle} from "../src/InferenceOracle.sol";
import {HashVerifier, OracleFixture, RecordingConsumer} from "./InferenceOracle.t.sol";
import {Test} from "./utils/Test.sol";

/// @dev Random requests, answers, challenges, disputes, votes, refunds and withdrawals by a few
///      actors; every path that the oracle refuses is simply skipped.
contract OracleHandler is Test {
    InferenceOracle public immutable oracle;
    RecordingConsumer public immutable consumer;
    bytes32[3] internal modelIds;
    address[5] public actors = [address(0xA1), address(0xA2), address(0xA3), address(0x3001), address(0x3002)];
    uint256[] public ids;

    constructor(InferenceOracle oracle_, RecordingConsumer consumer_, bytes32[3] memory modelIds_) {
        oracle = oracle_;
        consumer = consumer_;
        modelIds = modelIds_;
        for (uint256 i = 0; i < actors.length; i++) {
            vm.deal(actors[i], 1_000 ether);
        }
        vm.deal(address(this), 1_000 ether);
    }

    function idCount() external view returns (uint256) {
        return ids.length;
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function _input(uint256 seed) internal pure returns (int256[] memory x) {
        x = new int256[](3);
        x[0] = int256(seed % 7) - 3;
        x[1] = 1;
        x[2] = 2;
    }

    function _out(uint256 seed) internal pure returns (int256[] memory y) {
        y = new int256[](1);
        y[0] = int256(seed % 3); // few distinct outputs: agreements and disagreements both happen
    }

    function _id(uint256 seed) internal view returns (uint256) {
        return ids.length == 0 ? 0 : ids[seed % ids.length];
    }

    function _proof(int256[] memory input, int256[] memory output) internal view returns (bytes memory) {
        return abi.encodePacked(keccak256(abi.encode(oracle.instancesOf(input, output))));
    }

    function request(uint256 modelSeed, uint256 inputSeed, uint256 fee) external {
        fee = bound(fee, 0.01 ether, 0.05 ether);
        try consumer.ask{value: fee}(modelIds[modelSeed % 3], _input(inputSeed)) returns (uint256 id) {
            ids.push(id);
        } catch {}
    }

    function deposit(uint256 actorSeed, uint256 amount) external {
        address a = actors[actorSeed % actors.length];
        amount = bound(amount, 0, 5 ether);
        vm.prank(a);
        oracle.deposit{value: amount}();
    }

    function fulfill(uint256 idSeed, uint256 inputSeed, uint256 outSeed, uint256 actorSeed) external {
        uint256 id = _id(idSeed);
        int256[] memory input = _input(inputSeed);
        int256[] memory output = _out(outSeed);
        bytes memory proof = _proof(input, output);
        vm.prank(actors[actorSeed % actors.length]);
        try oracle.fulfill(id, input, output, proof) {} catch {}
    }

    function propose(uint256 idSeed, uint256 outSeed, uint256 actorSeed) external {
        uint256[] memory one = new uint256[](1);
        one[0] = _id(idSeed);
        int256[][] memory outs = new int256[][](1);
        outs[0] = _out(outSeed);
        vm.prank(actors[actorSeed % actors.length]);
        try oracle.propose(one, outs) {} catch {}
    }

    function finalize(uint256 idSeed, uint256 outSeed) external {
        uint256[] memory one = new uint256[](1);
        one[0] = _id(idSeed);
        int256[][] memory outs = new int256[][](1);
        outs[0] = _out(outSeed);
        try oracle.finalize(one, outs) {} catch {}
    }

    function challenge(uint256 idSeed, uint256 inputSeed, uint256 outSeed, uint256 actorSeed) external {
        int256[] memory input = _input(inputSeed);
        int256[] memory output = _out(outSeed);
        bytes memory proof = _proof(input, output);
        vm.prank(actors[actorSeed % actors.length]);
        try oracle.challenge(_id(idSeed), input, output, proof) {} catch {}
    }

    function dispute(uint256 idSeed, uint256 actorSeed) external {
        vm.prank(actors[actorSeed % actors.length]);
        try oracle.dispute(_id(idSeed)) {} catch {}
    }

    function vote(uint256 idSeed, uint256 outSeed, uint256 actorSeed) external {
        vm.prank(actors[actorSeed % actors.length]);
        try oracle.vote(_id(idSeed), _out(outSeed)) {} catch {}
    }

    function abandon(uint256 idSeed) external {
        try oracle.abandonDispute(_id(idSeed)) {} catch {}
    }

    function refund(uint256 idSeed) external {
        try oracle.refund(_id(idSeed)) {} catch {}
    }

    function withdraw(uint256 actorSeed, uint256 amount) external {
        address a = actors[actorSeed % actors.length];
        amount = bound(amount, 0, oracle.balanceOf(a));
        vm.prank(a);
        oracle.withdraw(amount);
    }

    function mine(uint256 blocks) external {
        vm.roll(block.number + bound(blocks, 1, 8));
    }
}

contract InferenceOracleInvariantTest is OracleFixture {
    OracleHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new OracleHandler(oracle, consumer, [ZK, OPT, COMMITTEE]);
        targetContract(address(handler));
    }

    /// every wei the oracle holds is owed to exactly one place
    function invariant_bondsAndFeesConserved() public view {
        uint256 owed = oracle.lockedBonds();
        owed += oracle.balanceOf(node) + oracle.balanceOf(challenger) + oracle.balanceOf(address(consumer));
        for (uint256 i = 0; i < handler.actorCount(); i++) {
            owed += oracle.balanceOf(handler.actors(i));
        }
        uint256 n = handler.idCount();
        for (uint256 i = 0; i < n; i++) {
            InferenceOracle.Request memory r = oracle.getRequest(handler.ids(i));
            if (r.status == InferenceOracle.Status.Pending || r.status == InferenceOracle.Status.Proposed || r.status == InferenceOracle.Status.Disputed) {
                owed += r.fee;
            }
        }
        vm.assertEq(address(oracle).balance, owed, "balance = balances + locked bonds + open fees");
    }

    /// a request is answered to its consumer at most once, and exactly once when fulfilled
    function invariant_noDoubleFulfilment() public view {
        uint256 n = handler.idCount();
        for (uint256 i = 0; i < n; i++) {
            uint256 id = handler.ids(i);
            InferenceOracle.Request memory r = oracle.getRequest(id);
            uint256 expected = r.status == InferenceOracle.Status.Fulfilled ? 1 : 0;
            vm.assertEq(consumer.calls(id), expected, "callbacks");
        }
    }
}
