// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReplayPriceFeed} from "../src/ReplayPriceFeed.sol";
import {Test} from "./utils/Test.sol";

contract ReplayPriceFeedTest is Test {
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    ReplayPriceFeed internal feed;
    address internal owner = address(0xA11CE);

    function setUp() public {
        vm.warp(1_700_000_000);
        feed = new ReplayPriceFeed(8, "FEI / USD", owner);
    }

    function test_metadata() public view {
        vm.assertEq(uint256(feed.decimals()), 8, "decimals");
        vm.assertEq(feed.description(), "FEI / USD", "description");
        vm.assertEq(feed.version(), 4, "version");
        vm.assertEq(uint256(feed.latestRound()), 0, "no round yet");
    }

    function test_noDataBeforeTheFirstRound() public {
        vm.expectRevert(abi.encodeWithSelector(ReplayPriceFeed.NoDataPresent.selector, uint80(0)));
        feed.latestRoundData();
        vm.expectRevert(abi.encodeWithSelector(ReplayPriceFeed.NoDataPresent.selector, uint80(1)));
        feed.getRoundData(1);
    }

    function test_pushedRoundsAnswerLikeChainlink() public {
        vm.startPrank(owner);
        vm.expectEmit(true, true, false, true);
        emit AnswerUpdated(99_912_300, 1, 1_655_849_369);
        feed.pushRound(99_912_300, 1_655_849_369);
        feed.pushRound(97_140_000, 1_655_870_952);
        vm.stopPrank();
        (uint80 id, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredIn) = feed.latestRoundData();
        vm.assertEq(uint256(id), 2, "latest round");
        vm.assertTrue(answer == 97_140_000, "latest answer");
        vm.assertEq(startedAt, 1_655_870_952, "startedAt");
        vm.assertEq(updatedAt, 1_655_870_952, "updatedAt");
        vm.assertEq(uint256(answeredIn), 2, "answeredInRound");
        (id, answer,, updatedAt,) = feed.getRoundData(1);
        vm.assertEq(uint256(id), 1, "first round");
        vm.assertTrue(answer == 99_912_300, "first answer");
        vm.assertEq(updatedAt, 1_655_849_369, "first updatedAt");
        vm.expectRevert(abi.encodeWithSelector(ReplayPriceFeed.NoDataPresent.selector, uint80(3)));
        feed.getRoundData(3);
    }

    function test_batchPushNumbersRoundsInOrder() public {
        int256[] memory answers = new int256[](3);
        uint256[] memory times = new uint256[](3);
        for (uint256 i = 0; i < 3; i++) {
            answers[i] = int256(1e8 + i);
            times[i] = 1_600_000_000 + i * 3600;
        }
        vm.prank(owner);
        feed.pushRounds(answers, times);
        vm.assertEq(uint256(feed.latestRound()), 3, "three rounds");
        (, int256 answer,, uint256 updatedAt,) = feed.getRoundData(2);
        vm.assertTrue(answer == 1e8 + 1, "second answer");
        vm.assertEq(updatedAt, 1_600_003_600, "second time");
    }

    function test_onlyTheOwnerPushes() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        feed.pushRound(1e8, 1_600_000_000);
    }

    function test_roundsMustBeOrderedAndNotInTheFuture() public {
        vm.startPrank(owner);
        feed.pushRound(1e8, 1_600_000_000);
        vm.expectRevert(
            abi.encodeWithSelector(ReplayPriceFeed.RoundOutOfOrder.selector, 1_599_999_999, 1_600_000_000)
        );
        feed.pushRound(1e8, 1_599_999_999);
        vm.expectRevert(
            abi.encodeWithSelector(ReplayPriceFeed.RoundInFuture.selector, 1_700_000_001, 1_700_000_000)
        );
        feed.pushRound(1e8, 1_700_000_001);
        int256[] memory answers = new int256[](2);
        uint256[] memory times = new uint256[](1);
        vm.expectRevert(abi.encodeWithSelector(ReplayPriceFeed.LengthMismatch.selector, 2, 1));
        feed.pushRounds(answers, times);
        vm.stopPrank();
    }

    function test_answerOutOfRange() public {
        int256 tooBig = int256(type(int192).max) + 1;
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(ReplayPriceFeed.AnswerOutOfRange.selector, tooBig));
        feed.pushRound(tooBig, 1_600_000_000);
    }

    function testFuzz_latestIsTheLastPushed(int192 a, int192 b, uint32 dt) public {
        vm.startPrank(owner);
        feed.pushRound(a, 1_600_000_000);
        feed.pushRound(b, 1_600_000_000 + uint256(dt) % 1e8);
        vm.stopPrank();
        (uint80 id, int256 answer,,,) = feed.latestRoundData();
        vm.assertEq(uint256(id), 2, "round");
        vm.assertTrue(answer == int256(b), "answer");
    }
}
