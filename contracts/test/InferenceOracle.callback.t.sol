// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {InferenceOracle, IInferenceConsumer} from "../src/InferenceOracle.sol";
import {OracleFixture} from "./InferenceOracle.t.sol";

/// @dev Records the gas it was given (its first statement: only the dispatch has run).
contract GasRecordingConsumer is IInferenceConsumer {
    uint256 public received;

    function ask(InferenceOracle oracle, bytes32 modelId, int256[] calldata input, uint32 limit)
        external
        payable
        returns (uint256)
    {
        return oracle.requestInference{value: msg.value}(modelId, input, limit);
    }

    function onInference(uint256, int256[] calldata) external {
        received = gasleft();
    }
}

/// @dev Sends one call with exactly `gas` and reverts with (success, gas the consumer received),
///      so a search over `gas` leaves no state behind.
contract GasProbe {
    function probe(address target, bytes calldata data, uint256 gas, GasRecordingConsumer c) external {
        (bool ok,) = target.call{gas: gas}(data);
        bytes memory result = abi.encode(ok, c.received());
        assembly ("memory-safe") {
            revert(add(result, 0x20), mload(result))
        }
    }
}

/// Finding: a consumer's callback could receive less than its callbackGasLimit when the output
/// was large (the gas check ran before the output was ABI-encoded). At the smallest gas that
/// lets `finalize` / `fulfill` succeed, the consumer must still get its whole limit.
contract InferenceOracleCallbackGasTest is OracleFixture {
    uint32 internal constant LIMIT = 500_000;
    // what the consumer's dispatch and ABI decoding spend before its first statement
    uint256 internal constant DISPATCH = 2_000;
    GasProbe internal probe;
    GasRecordingConsumer internal recorder;

    function setUp() public override {
        super.setUp();
        probe = new GasProbe();
        recorder = new GasRecordingConsumer();
    }

    function _wide(InferenceOracle.Mode mode, uint16 outputs) internal returns (bytes32) {
        InferenceOracle.ModelConfig memory cfg = _cfg(address(verifier), mode, new address[](0), 0);
        cfg.outputLength = outputs;
        return oracle.registerModel(keccak256(abi.encode("wide", mode, outputs)), cfg);
    }

    function _values(uint256 n) internal pure returns (int256[] memory y) {
        y = new int256[](n);
        for (uint256 i = 0; i < n; i++) {
            y[i] = int256(i) - 7;
        }
    }

    function _try(bytes memory data, uint256 gas) internal returns (bool ok, uint256 received) {
        try probe.probe(address(oracle), data, gas, recorder) {}
        catch (bytes memory ret) {
            (ok, received) = abi.decode(ret, (bool, uint256));
        }
    }

    /// the smallest gas at which `data` succeeds, and what the consumer received then
    function _boundary(bytes memory data) internal returns (uint256 gas, uint256 received) {
        uint256 lo = LIMIT; // fails: the consumer alone may take LIMIT
        uint256 hi = LIMIT + 3_000_000;
        (bool ok,) = _try(data, hi);
        vm.assertTrue(ok, "succeeds with plenty of gas");
        while (hi - lo > 1) {
            uint256 mid = (lo + hi) / 2;
            (ok,) = _try(data, mid);
            if (ok) hi = mid;
            else lo = mid;
        }
        (, received) = _try(data, hi);
        gas = hi;
    }

    function _finalizeBoundary(uint16 outputs) internal {
        bytes32 model = _wide(InferenceOracle.Mode.Optimistic, outputs);
        uint256 id = recorder.ask{value: FEE}(oracle, model, _input(), LIMIT);
        int256[][] memory outs = new int256[][](1);
        outs[0] = _values(outputs);
        vm.prank(node);
        oracle.propose(_one(id), outs);
        vm.roll(block.number + WINDOW + 1);
        (, uint256 received) = _boundary(abi.encodeCall(InferenceOracle.finalize, (_one(id), outs)));
        vm.assertTrue(received + DISPATCH >= LIMIT, "the consumer got its whole limit at the boundary");
    }

    function _fulfillBoundary(uint16 outputs) internal {
        bytes32 model = _wide(InferenceOracle.Mode.Zk, outputs);
        uint256 id = recorder.ask{value: FEE}(oracle, model, _input(), LIMIT);
        int256[] memory output = _values(outputs);
        bytes memory proof = _proof(_input(), output);
        _commit(address(probe), id, proof); // the probe sends the fulfil
        (, uint256 received) = _boundary(abi.encodeCall(InferenceOracle.fulfill, (id, _input(), output, proof)));
        vm.assertTrue(received + DISPATCH >= LIMIT, "the consumer got its whole limit at the boundary");
    }

    function test_finalize_boundary_small_output() public {
        _finalizeBoundary(1);
    }

    function test_finalize_boundary_large_output() public {
        _finalizeBoundary(2_000);
    }

    function test_fulfill_boundary_small_output() public {
        _fulfillBoundary(1);
    }

    function test_fulfill_boundary_large_output() public {
        _fulfillBoundary(2_000);
    }
}
