// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @notice Chainlink's price-feed read interface (AggregatorV3Interface), as consumers call it.
interface AggregatorV3Interface {
    function decimals() external view returns (uint8);

    function description() external view returns (string memory);

    function version() external view returns (uint256);

    function getRoundData(uint80 roundId_)
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);

    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
}

/// @title ReplayPriceFeed
/// @notice A price feed that answers like a Chainlink aggregator (AggregatorV3Interface, and the
///         `AnswerUpdated` event of its AggregatorInterface) while its owner pushes the rounds:
///         a recorded price history replayed round by round on a devnet, or a test's scenario.
/// @dev Each round keeps the time the price was observed (`updatedAt`), which may lie in the
///      past (a replayed history) but never after the block, and never before the previous
///      round's: consumers rely on rounds being ordered in time. Rounds are numbered from 1;
///      `answeredInRound` is the round itself and `startedAt` equals `updatedAt`.
contract ReplayPriceFeed is AggregatorV3Interface, Ownable {
    /// @notice Chainlink's AggregatorInterface event, emitted once per round.
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    struct Round {
        int192 answer;
        uint64 updatedAt;
    }

    uint8 public immutable override decimals;
    uint256 public constant override version = 4;
    string private _description;

    /// @notice The number of rounds pushed so far (the id of the latest round).
    uint80 public latestRound;
    mapping(uint80 => Round) private _rounds;

    error NoDataPresent(uint80 roundId);
    error RoundOutOfOrder(uint256 updatedAt, uint256 previousUpdatedAt);
    error RoundInFuture(uint256 updatedAt, uint256 blockTime);
    error AnswerOutOfRange(int256 answer);
    error LengthMismatch(uint256 answers, uint256 times);

    constructor(uint8 decimals_, string memory description_, address owner_) Ownable(owner_) {
        decimals = decimals_;
        _description = description_;
    }

    function description() external view override returns (string memory) {
        return _description;
    }

    /// @notice Push one round: `answer` (scaled by 10**decimals) observed at `updatedAt`.
    function pushRound(int256 answer, uint256 updatedAt) external onlyOwner returns (uint80) {
        return _push(answer, updatedAt);
    }

    /// @notice Push several rounds in order, one `AnswerUpdated` each (a history's warm-up).
    function pushRounds(int256[] calldata answers, uint256[] calldata updatedAts) external onlyOwner {
        if (answers.length != updatedAts.length) revert LengthMismatch(answers.length, updatedAts.length);
        for (uint256 i = 0; i < answers.length; i++) {
            _push(answers[i], updatedAts[i]);
        }
    }

    function getRoundData(uint80 roundId_) external view override returns (uint80, int256, uint256, uint256, uint80) {
        if (roundId_ == 0 || roundId_ > latestRound) revert NoDataPresent(roundId_);
        return _answer(roundId_);
    }

    function latestRoundData() external view override returns (uint80, int256, uint256, uint256, uint80) {
        if (latestRound == 0) revert NoDataPresent(0);
        return _answer(latestRound);
    }

    function _push(int256 answer, uint256 updatedAt) private returns (uint80 roundId) {
        if (answer > type(int192).max || answer < type(int192).min) revert AnswerOutOfRange(answer);
        if (updatedAt > block.timestamp) revert RoundInFuture(updatedAt, block.timestamp);
        uint256 previous = _rounds[latestRound].updatedAt;
        if (updatedAt < previous) revert RoundOutOfOrder(updatedAt, previous);
        roundId = latestRound + 1;
        latestRound = roundId;
        // both casts fit: answer was range-checked above, and updatedAt ≤ block.timestamp
        _rounds[roundId] = Round(int192(answer), uint64(updatedAt));
        emit AnswerUpdated(answer, roundId, updatedAt);
    }

    function _answer(uint80 roundId) private view returns (uint80, int256, uint256, uint256, uint80) {
        Round storage round = _rounds[roundId];
        return (roundId, round.answer, round.updatedAt, round.updatedAt, roundId);
    }
}
