// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {InferenceOracle, IInferenceConsumer} from "../src/InferenceOracle.sol";
import {Test} from "./utils/Test.sol";

/// @dev Stands in for an EZKL verifier in unit tests (the devnet tests use real ones): a proof
///      is valid when it is keccak256 of the public inputs. Reverts on a proof of the wrong size,
///      as the real verifier does.
contract HashVerifier {
    function verifyProof(bytes calldata proof, uint256[] calldata instances) external pure returns (bool) {
        require(proof.length == 32, "bad proof length");
        return bytes32(proof) == keccak256(abi.encode(instances));
    }
}

/// @dev What a model squatter registers: a verifier that accepts any proof.
contract AcceptAll {
    function verifyProof(bytes calldata, uint256[] calldata) external pure returns (bool) {
        return true;
    }
}

contract RecordingConsumer is IInferenceConsumer {
    InferenceOracle public immutable oracle;
    mapping(uint256 => uint256) public calls;
    mapping(uint256 => int256) public first;

    constructor(InferenceOracle oracle_) {
        oracle = oracle_;
    }

    function ask(bytes32 modelId, int256[] calldata input) external payable returns (uint256) {
        return oracle.requestInference{value: msg.value}(modelId, input, 100_000);
    }

    function onInference(uint256 requestId, int256[] calldata output) external {
        require(msg.sender == address(oracle), "not oracle");
        calls[requestId] += 1;
        first[requestId] = output[0];
    }
}

contract RevertingConsumer is IInferenceConsumer {
    function ask(InferenceOracle oracle, bytes32 modelId, int256[] calldata input) external payable returns (uint256) {
        return oracle.requestInference{value: msg.value}(modelId, input, 100_000);
    }

    function onInference(uint256, int256[] calldata) external pure {
        revert("consumer says no");
    }
}

contract GasBurningConsumer is IInferenceConsumer {
    uint256 public sink;

    function ask(InferenceOracle oracle, bytes32 modelId, int256[] calldata input) external payable returns (uint256) {
        return oracle.requestInference{value: msg.value}(modelId, input, 200_000);
    }

    function onInference(uint256, int256[] calldata) external {
        while (true) {
            sink += 1;
        }
    }
}

/// @dev Tries to fulfil its own request again from inside the callback.
contract ReentrantConsumer is IInferenceConsumer {
    InferenceOracle public immutable oracle;
    bytes public replayProof;
    int256[] public replayInput;
    bool public reentered;

    constructor(InferenceOracle oracle_) {
        oracle = oracle_;
    }

    function ask(bytes32 modelId, int256[] calldata input, bytes calldata proof) external payable returns (uint256) {
        replayProof = proof;
        replayInput = input;
        return oracle.requestInference{value: msg.value}(modelId, input, 500_000);
    }

    function onInference(uint256 requestId, int256[] calldata output) external {
        try oracle.fulfill(requestId, replayInput, output, replayProof) {
            reentered = true;
        } catch {}
    }
}

abstract contract OracleFixture is Test {
    InferenceOracle internal oracle;
    HashVerifier internal verifier;
    RecordingConsumer internal consumer;
    bytes32 internal constant ZK_KEY = keccak256("zk-model");
    bytes32 internal constant OPT_KEY = keccak256("optimistic-model");
    bytes32 internal constant COMMITTEE_KEY = keccak256("committee-model");
    bytes32 internal ZK;
    bytes32 internal OPT;
    bytes32 internal COMMITTEE;
    uint64 internal constant FEE = 0.01 ether;
    uint96 internal constant BOND = 1 ether;
    uint32 internal constant WINDOW = 5;
    uint32 internal constant TIMEOUT = 20;
    address internal node = address(0xB0B);
    address internal challenger = address(0xC4A1);
    address[3] internal members = [address(0x3001), address(0x3002), address(0x3003)];

    function setUp() public virtual {
        vm.roll(100);
        oracle = new InferenceOracle();
        verifier = new HashVerifier();
        consumer = new RecordingConsumer(oracle);
        ZK = oracle.registerModel(ZK_KEY, _cfg(address(verifier), InferenceOracle.Mode.Zk, new address[](0), 0));
        OPT = oracle.registerModel(
            OPT_KEY, _cfg(address(verifier), InferenceOracle.Mode.Optimistic, new address[](0), 0)
        );
        address[] memory committee = new address[](3);
        for (uint256 i = 0; i < 3; i++) {
            committee[i] = members[i];
        }
        COMMITTEE = oracle.registerModel(COMMITTEE_KEY, _cfg(address(0), InferenceOracle.Mode.Optimistic, committee, 2));
        vm.deal(address(this), 100 ether);
        vm.deal(node, 100 ether);
        vm.deal(challenger, 100 ether);
        vm.prank(node);
        oracle.deposit{value: 10 ether}();
        vm.prank(challenger);
        oracle.deposit{value: 10 ether}();
    }

    function _cfg(address v, InferenceOracle.Mode mode, address[] memory committee, uint8 quorum)
        internal
        pure
        returns (InferenceOracle.ModelConfig memory)
    {
        return InferenceOracle.ModelConfig({
            verifier: v,
            mode: mode,
            inputLength: 3,
            outputLength: 1,
            valueBits: 64,
            fee: FEE,
            bond: BOND,
            challengeWindow: WINDOW,
            timeout: TIMEOUT,
            quorum: quorum,
            committee: committee
        });
    }

    function _input() internal pure returns (int256[] memory x) {
        x = new int256[](3);
        x[0] = 4096;
        x[1] = -2048;
        x[2] = 7;
    }

    function _output(int256 v) internal pure returns (int256[] memory y) {
        y = new int256[](1);
        y[0] = v;
    }

    function _proof(int256[] memory input, int256[] memory output) internal view returns (bytes memory) {
        return abi.encodePacked(keccak256(abi.encode(oracle.instancesOf(input, output))));
    }

    /// `who` commits to `proof` for request `id`; the next block begins (reveals come later)
    function _commit(address who, uint256 id, bytes memory proof) internal {
        vm.prank(who);
        oracle.commit(id, keccak256(abi.encode(id, who, keccak256(proof))));
        vm.roll(block.number + 1);
    }

    function _one(uint256 id) internal pure returns (uint256[] memory ids) {
        ids = new uint256[](1);
        ids[0] = id;
    }

    function _outs(int256 v) internal pure returns (int256[][] memory outs) {
        outs = new int256[][](1);
        outs[0] = _output(v);
    }
}

contract InferenceOracleTest is OracleFixture {
    // ------------------------------------------------ requests and bad input

    function test_request_emits_and_stores_commitment() public {
        uint256 id = consumer.ask{value: FEE}(ZK, _input());
        InferenceOracle.Request memory r = oracle.getRequest(id);
        vm.assertEq(uint256(r.status), uint256(InferenceOracle.Status.Pending), "status");
        vm.assertEq(r.inputHash, keccak256(abi.encode(_input())), "input hash");
        vm.assertEq(r.requester, address(consumer), "requester");
        vm.assertEq(uint256(r.deadline), block.number + TIMEOUT, "deadline");
    }

    function test_unknown_model_rejected() public {
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.UnknownModel.selector, bytes32("nope")));
        oracle.requestInference{value: FEE}(bytes32("nope"), _input(), 0);
    }

    function test_wrong_input_shape_rejected() public {
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.InputShape.selector, 3, 2));
        oracle.requestInference{value: FEE}(ZK, new int256[](2), 0);
    }

    function test_value_out_of_range_rejected() public {
        int256[] memory x = _input();
        x[1] = -(int256(1) << 64);
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.ValueOutOfRange.selector, 1, x[1], 64));
        oracle.requestInference{value: FEE}(ZK, x, 0);
    }

    function test_low_fee_rejected() public {
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.FeeTooLow.selector, FEE, FEE - 1));
        oracle.requestInference{value: FEE - 1}(ZK, _input(), 0);
    }

    function test_callback_gas_cap() public {
        uint32 tooMuch = oracle.MAX_CALLBACK_GAS() + 1;
        vm.expectRevert(
            abi.encodeWithSelector(InferenceOracle.CallbackGasTooHigh.selector, tooMuch, oracle.MAX_CALLBACK_GAS())
        );
        oracle.requestInference{value: FEE}(ZK, _input(), tooMuch);
    }

    function test_paused_model_rejects_requests() public {
        oracle.updateModel(ZK, FEE, false);
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.ModelInactive.selector, ZK));
        oracle.requestInference{value: FEE}(ZK, _input(), 0);
        vm.prank(node);
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.NotModelOwner.selector, ZK, node));
        oracle.updateModel(ZK, 0, true);
    }

    function test_bad_model_configs_rejected() public {
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.ModelExists.selector, ZK));
        oracle.registerModel(ZK_KEY, _cfg(address(verifier), InferenceOracle.Mode.Zk, new address[](0), 0));
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.BadModelConfig.selector, "zk mode needs a verifier"));
        oracle.registerModel(bytes32("a"), _cfg(address(0), InferenceOracle.Mode.Zk, new address[](0), 0));
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.BadModelConfig.selector, "verifier has no code"));
        oracle.registerModel(bytes32("b"), _cfg(address(0xdead), InferenceOracle.Mode.Zk, new address[](0), 0));
        address[] memory two = new address[](2);
        two[0] = members[0];
        two[1] = members[1];
        vm.expectRevert(
            abi.encodeWithSelector(InferenceOracle.BadModelConfig.selector, "quorum must be a majority of the committee")
        );
        oracle.registerModel(bytes32("c"), _cfg(address(0), InferenceOracle.Mode.Optimistic, two, 1));
        address[] memory twice = new address[](3);
        twice[0] = members[0];
        twice[1] = members[1];
        twice[2] = members[0];
        vm.expectRevert(
            abi.encodeWithSelector(InferenceOracle.BadModelConfig.selector, "the committee names a member twice")
        );
        oracle.registerModel(bytes32("d"), _cfg(address(0), InferenceOracle.Mode.Optimistic, twice, 2));
    }

    // ------------------------------------------------ finding: model squatting

    /// An attacker who registers the key an honest owner will use (with a verifier that accepts
    /// everything and a huge bond) gets an id in its own namespace: the owner's registration
    /// still succeeds, and the owner's id, the one its node serves, is the owner's model.
    function test_squatting_a_key_does_not_take_the_owners_id() public {
        address attacker = address(0xBAD);
        AcceptAll yes = new AcceptAll();
        bytes32 key = keccak256("package-digest|optimistic");
        InferenceOracle.ModelConfig memory evil =
            _cfg(address(yes), InferenceOracle.Mode.Optimistic, new address[](0), 0);
        evil.bond = 10 ether;
        vm.prank(attacker);
        bytes32 squatted = oracle.registerModel(key, evil);
        bytes32 mine = oracle.registerModel(key, _cfg(address(verifier), InferenceOracle.Mode.Optimistic, new address[](0), 0));
        vm.assertEq(mine, oracle.modelIdOf(address(this), key), "owner's namespace");
        vm.assertEq(squatted, oracle.modelIdOf(attacker, key), "attacker's namespace");
        vm.assertTrue(mine != squatted, "different models");
        InferenceOracle.Model memory m = oracle.getModel(mine);
        vm.assertEq(m.owner, address(this), "owner");
        vm.assertEq(m.verifier, address(verifier), "the owner's verifier");
        vm.assertEq(uint256(m.bond), uint256(BOND), "the owner's bond");
        vm.assertEq(oracle.committeeOf(COMMITTEE).length, 3, "committee readable");
    }

    // ------------------------------------------------ zk mode

    function test_zk_fulfil_pays_node_and_calls_back() public {
        uint256 id = consumer.ask{value: FEE}(ZK, _input());
        bytes memory proof = _proof(_input(), _output(-1234));
        _commit(node, id, proof);
        vm.prank(node);
        oracle.fulfill(id, _input(), _output(-1234), proof);
        vm.assertEq(consumer.calls(id), 1, "one callback");
        vm.assertEq(uint256(consumer.first(id)), uint256(int256(-1234)), "output");
        vm.assertEq(oracle.balanceOf(node), 10 ether + FEE, "fee to node");
        InferenceOracle.Request memory r = oracle.getRequest(id);
        vm.assertEq(r.outputHash, keccak256(abi.encode(_output(-1234))), "output commitment");
    }

    function test_zk_tampered_proof_rejected() public {
        uint256 id = consumer.ask{value: FEE}(ZK, _input());
        bytes memory proof = _proof(_input(), _output(5));
        proof[3] ^= 0x01;
        _commit(node, id, proof);
        vm.prank(node);
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.InvalidProof.selector, id));
        oracle.fulfill(id, _input(), _output(5), proof);
    }

    function test_zk_malformed_proof_rejected_not_bubbled() public {
        uint256 id = consumer.ask{value: FEE}(ZK, _input());
        _commit(address(this), id, hex"0102");
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.InvalidProof.selector, id));
        oracle.fulfill(id, _input(), _output(5), hex"0102");
    }

    function test_zk_mismatched_output_rejected() public {
        uint256 id = consumer.ask{value: FEE}(ZK, _input());
        bytes memory proof = _proof(_input(), _output(5));
        _commit(address(this), id, proof);
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.InvalidProof.selector, id));
        oracle.fulfill(id, _input(), _output(6), proof);
    }

    function test_zk_other_input_rejected() public {
        uint256 id = consumer.ask{value: FEE}(ZK, _input());
        int256[] memory other = _input();
        other[0] = 1;
        bytes memory proof = _proof(other, _output(5));
        _commit(address(this), id, proof);
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.InputMismatch.selector, id));
        oracle.fulfill(id, other, _output(5), proof);
    }

    function test_zk_double_fulfil_rejected() public {
        uint256 id = consumer.ask{value: FEE}(ZK, _input());
        bytes memory proof = _proof(_input(), _output(5));
        _commit(address(this), id, proof);
        oracle.fulfill(id, _input(), _output(5), proof);
        bytes memory again = _proof(_input(), _output(5));
        vm.expectRevert(
            abi.encodeWithSelector(InferenceOracle.WrongStatus.selector, id, InferenceOracle.Status.Fulfilled)
        );
        oracle.fulfill(id, _input(), _output(5), again);
    }

    function test_zk_mode_refuses_proposals() public {
        uint256 id = consumer.ask{value: FEE}(ZK, _input());
        vm.prank(node);
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.WrongMode.selector, ZK, InferenceOracle.Mode.Zk));
        oracle.propose(_one(id), _outs(5));
    }

    // ------------------------------------------------ callbacks never block the oracle

    function test_reverting_callback_still_fulfils() public {
        RevertingConsumer bad = new RevertingConsumer();
        uint256 id = bad.ask{value: FEE}(oracle, ZK, _input());
        bytes memory proof = _proof(_input(), _output(5));
        _commit(address(this), id, proof);
        oracle.fulfill(id, _input(), _output(5), proof);
        vm.assertEq(uint256(oracle.getRequest(id).status), uint256(InferenceOracle.Status.Fulfilled), "fulfilled");
    }

    function test_gas_burning_callback_is_capped() public {
        GasBurningConsumer bad = new GasBurningConsumer();
        uint256 id = bad.ask{value: FEE}(oracle, ZK, _input());
        bytes memory proof = _proof(_input(), _output(5));
        _commit(address(this), id, proof);
        uint256 before = gasleft();
        oracle.fulfill(id, _input(), _output(5), proof);
        vm.assertTrue(before - gasleft() < 400_000, "burnt at most the callback limit");
        vm.assertEq(uint256(oracle.getRequest(id).status), uint256(InferenceOracle.Status.Fulfilled), "fulfilled");
    }

    function test_too_little_gas_for_callback_reverts() public {
        GasBurningConsumer bad = new GasBurningConsumer();
        uint256 id = bad.ask{value: FEE}(oracle, ZK, _input());
        bytes memory proof = _proof(_input(), _output(5));
        _commit(address(this), id, proof);
        (bool ok, bytes memory ret) = address(oracle).call{gas: 150_000}(
            abi.encodeCall(InferenceOracle.fulfill, (id, _input(), _output(5), proof))
        );
        vm.assertFalse(ok, "must not fulfil with a starved callback");
        vm.assertEq(bytes32(ret), bytes32(abi.encodeWithSelector(InferenceOracle.InsufficientCallbackGas.selector, id)), "reason");
        vm.assertEq(uint256(oracle.getRequest(id).status), uint256(InferenceOracle.Status.Pending), "still pending");
    }

    function test_reentrant_fulfil_blocked() public {
        ReentrantConsumer re = new ReentrantConsumer(oracle);
        bytes memory proof = _proof(_input(), _output(5));
        uint256 id = re.ask{value: FEE}(ZK, _input(), proof);
        _commit(address(this), id, proof);
        oracle.fulfill(id, _input(), _output(5), proof);
        vm.assertFalse(re.reentered(), "re-entry refused");
        vm.assertEq(oracle.balanceOf(address(this)), FEE, "paid once");
    }

    // ------------------------------------------------ timeouts

    function test_refund_after_deadline_only() public {
        uint256 id = consumer.ask{value: FEE}(ZK, _input());
        uint32 deadline = oracle.getRequest(id).deadline;
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.NotExpired.selector, id, deadline));
        oracle.refund(id);
        vm.roll(uint256(deadline) + 1);
        bytes memory proof = _proof(_input(), _output(5));
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.RequestExpired.selector, id, deadline));
        oracle.fulfill(id, _input(), _output(5), proof);
        oracle.refund(id);
        vm.assertEq(oracle.balanceOf(address(consumer)), FEE, "refund credited");
        vm.expectRevert(
            abi.encodeWithSelector(InferenceOracle.WrongStatus.selector, id, InferenceOracle.Status.Refunded)
        );
        oracle.refund(id);
    }

    // ------------------------------------------------ optimistic mode

    function test_optimistic_unchallenged_finalizes() public {
        uint256 id = consumer.ask{value: FEE}(OPT, _input());
        vm.prank(node);
        oracle.propose(_one(id), _outs(42));
        vm.assertEq(oracle.balanceOf(node), 10 ether - BOND, "bond locked");
        vm.assertEq(oracle.lockedBonds(), BOND, "locked");
        uint32 ends = oracle.getRequest(id).challengeEnds;
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.ChallengeWindowOpen.selector, id, ends));
        oracle.finalize(_one(id), _outs(42));
        vm.roll(uint256(ends) + 1);
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.OutputMismatch.selector, id));
        oracle.finalize(_one(id), _outs(41));
        oracle.finalize(_one(id), _outs(42));
        vm.assertEq(consumer.calls(id), 1, "callback");
        vm.assertEq(uint256(consumer.first(id)), 42, "output");
        vm.assertEq(oracle.balanceOf(node), 10 ether + FEE, "bond back plus fee");
        vm.assertEq(oracle.lockedBonds(), 0, "nothing locked");
    }

    function test_optimistic_wrong_answer_slashed_by_proof() public {
        uint256 id = consumer.ask{value: FEE}(OPT, _input());
        vm.prank(node);
        oracle.propose(_one(id), _outs(42));
        bytes memory same = _proof(_input(), _output(42));
        _commit(challenger, id, same);
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.SameOutput.selector, id));
        oracle.challenge(id, _input(), _output(42), same);
        bytes memory wrong = _proof(_input(), _output(44));
        _commit(challenger, id, wrong);
        vm.prank(challenger);
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.InvalidProof.selector, id));
        oracle.challenge(id, _input(), _output(43), wrong);
        bytes memory proof0 = _proof(_input(), _output(43));
        _commit(challenger, id, proof0);
        vm.prank(challenger);
        oracle.challenge(id, _input(), _output(43), proof0);
        vm.assertEq(oracle.balanceOf(challenger), 10 ether + BOND / 2 + FEE, "challenger wins half the bond and the fee");
        vm.assertEq(oracle.balanceOf(address(consumer)), BOND / 2, "the requester gets the other half");
        vm.assertEq(oracle.balanceOf(node), 10 ether - BOND, "node slashed");
        vm.assertEq(uint256(consumer.first(id)), 43, "consumer gets the proved output");
        vm.roll(block.number + WINDOW + 1);
        vm.expectEmit(true, false, false, true);
        emit InferenceOracle.AnswerSkipped(id, InferenceOracle.Status.Fulfilled);
        oracle.finalize(_one(id), _outs(42));
        vm.assertEq(oracle.balanceOf(node), 10 ether - BOND, "finalizing a settled answer pays nothing");
    }

    function test_challenge_after_window_rejected() public {
        uint256 id = consumer.ask{value: FEE}(OPT, _input());
        vm.prank(node);
        oracle.propose(_one(id), _outs(42));
        uint32 ends = oracle.getRequest(id).challengeEnds;
        vm.roll(uint256(ends) + 1);
        bytes memory proof1 = _proof(_input(), _output(43));
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.ChallengeWindowClosed.selector, id, ends));
        oracle.challenge(id, _input(), _output(43), proof1);
    }

    function test_propose_needs_bond() public {
        uint256 id = consumer.ask{value: FEE}(OPT, _input());
        address poor = address(0x9009);
        vm.prank(poor);
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.InsufficientBalance.selector, poor, BOND, 0));
        oracle.propose(_one(id), _outs(1));
    }

    function test_batched_proposals_lock_one_bond_each() public {
        uint256[] memory ids = new uint256[](4);
        int256[][] memory outs = new int256[][](4);
        for (uint256 i = 0; i < 4; i++) {
            ids[i] = consumer.ask{value: FEE}(OPT, _input());
            outs[i] = _output(int256(i));
        }
        vm.prank(node);
        oracle.propose(ids, outs);
        vm.assertEq(oracle.lockedBonds(), 4 * uint256(BOND), "four bonds");
        vm.roll(block.number + WINDOW + 1);
        oracle.finalize(ids, outs);
        for (uint256 i = 0; i < 4; i++) {
            vm.assertEq(consumer.calls(ids[i]), 1, "each called back once");
        }
        vm.expectRevert(InferenceOracle.LengthMismatch.selector);
        oracle.propose(ids, new int256[][](3));
    }

    // ------------------------------------------------ finding: one copied proposal griefs a batch

    /// An attacker copies one answer of the node's pending batch and gets it mined first: the
    /// node's batch still proposes the others (the copied id is skipped with an event), and a
    /// finalize batch skips an id someone else finalized first.
    function test_batches_skip_ids_that_are_no_longer_open() public {
        uint256[] memory ids = new uint256[](3);
        int256[][] memory outs = new int256[][](3);
        for (uint256 i = 0; i < 3; i++) {
            ids[i] = consumer.ask{value: FEE}(OPT, _input());
            outs[i] = _output(int256(i));
        }
        vm.prank(challenger); // the copier
        oracle.propose(_one(ids[1]), _outs(1));
        vm.expectEmit(true, false, false, true);
        emit InferenceOracle.AnswerSkipped(ids[1], InferenceOracle.Status.Proposed);
        vm.prank(node);
        oracle.propose(ids, outs);
        vm.assertEq(oracle.balanceOf(node), 10 ether - 2 * uint256(BOND), "two bonds, not three");
        vm.assertEq(oracle.getRequest(ids[0]).node, node, "first proposed");
        vm.assertEq(oracle.getRequest(ids[1]).node, challenger, "the copy stands");
        vm.assertEq(oracle.getRequest(ids[2]).node, node, "third proposed");
        vm.roll(block.number + WINDOW + 1);
        oracle.finalize(_one(ids[0]), _outs(0)); // someone finalizes one first
        vm.expectEmit(true, false, false, true);
        emit InferenceOracle.AnswerSkipped(ids[0], InferenceOracle.Status.Fulfilled);
        oracle.finalize(ids, outs);
        for (uint256 i = 0; i < 3; i++) {
            vm.assertEq(consumer.calls(ids[i]), 1, "each called back once");
        }
        vm.assertEq(oracle.balanceOf(node), 10 ether + 2 * uint256(FEE), "bonds back, two fees");
        // an expired request is skipped too
        uint256 late = consumer.ask{value: FEE}(OPT, _input());
        vm.roll(block.number + TIMEOUT + 1);
        vm.expectEmit(true, false, false, true);
        emit InferenceOracle.AnswerSkipped(late, InferenceOracle.Status.Pending);
        vm.prank(node);
        oracle.propose(_one(late), _outs(5));
    }

    // ------------------------------------------------ finding: copied zk fulfilments

    /// A copier sees the prover's fulfil in the mempool and sends the same proof first: it has
    /// no commitment (or only one made after the proof became public), so the fee goes to the
    /// prover that committed first.
    function test_a_copied_fulfil_earns_nothing() public {
        uint256 id = consumer.ask{value: FEE}(ZK, _input());
        bytes memory proof = _proof(_input(), _output(9));
        address copier = address(0xC0C0);
        vm.prank(node);
        oracle.commit(id, keccak256(abi.encode(id, node, keccak256(proof))));
        // copying the commitment itself is useless: it names the node
        vm.prank(copier);
        oracle.commit(id, keccak256(abi.encode(id, node, keccak256(proof))));
        vm.prank(node);
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.RevealTooEarly.selector, id, uint32(block.number)));
        oracle.fulfill(id, _input(), _output(9), proof); // the same block: too early
        vm.roll(block.number + 1);
        vm.prank(copier);
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.NotCommitted.selector, id, copier));
        oracle.fulfill(id, _input(), _output(9), proof);
        vm.prank(copier); // commits once it sees the proof: it could reveal only in a later block
        oracle.commit(id, keccak256(abi.encode(id, copier, keccak256(proof))));
        vm.prank(copier);
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.RevealTooEarly.selector, id, uint32(block.number)));
        oracle.fulfill(id, _input(), _output(9), proof);
        vm.prank(node);
        oracle.fulfill(id, _input(), _output(9), proof);
        vm.assertEq(oracle.balanceOf(node), 10 ether + FEE, "the fee goes to the committed prover");
        vm.assertEq(oracle.balanceOf(copier), 0, "the copier gets nothing");
        vm.prank(copier);
        vm.expectRevert(
            abi.encodeWithSelector(InferenceOracle.WrongStatus.selector, id, InferenceOracle.Status.Fulfilled)
        );
        oracle.commit(id, bytes32(0));
    }

    // ------------------------------------------------ finding: challenge rewards bound to the challenger

    function _proposedWrong() internal returns (uint256 id) {
        id = consumer.ask{value: FEE}(OPT, _input());
        vm.prank(node);
        oracle.propose(_one(id), _outs(42)); // the right answer is 43
    }

    /// The wrong proposer copies the honest challenger's proof from the mempool and sends it
    /// first: without a commitment of its own, made in an earlier block, it is refused.
    function test_a_copied_challenge_proof_is_refused() public {
        uint256 id = _proposedWrong();
        bytes memory proof = _proof(_input(), _output(43));
        _commit(challenger, id, proof);
        address alt = address(0xA17); // the proposer's second address
        vm.prank(alt);
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.NotCommitted.selector, id, alt));
        oracle.challenge(id, _input(), _output(43), proof);
        vm.prank(node);
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.ProposerCannotChallenge.selector, id));
        oracle.challenge(id, _input(), _output(43), proof);
        // a commitment made once the proof is public comes too late: it reveals a block later
        vm.prank(alt);
        oracle.commit(id, keccak256(abi.encode(id, alt, keccak256(proof))));
        vm.prank(alt);
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.RevealTooEarly.selector, id, uint32(block.number)));
        oracle.challenge(id, _input(), _output(43), proof);
        vm.prank(challenger);
        oracle.challenge(id, _input(), _output(43), proof);
        vm.assertEq(oracle.balanceOf(challenger), 10 ether + BOND / 2 + FEE, "the committer gains");
        vm.assertEq(oracle.balanceOf(alt), 0, "the copier gains nothing");
    }

    /// A wrong proposer that challenges itself through a second address loses half its bond.
    function test_a_self_challenge_loses_money() public {
        uint256 id = _proposedWrong();
        address alt = address(0xA17);
        uint256 before = oracle.balanceOf(node) + BOND + oracle.balanceOf(alt); // + the bond locked
        bytes memory proof = _proof(_input(), _output(43));
        _commit(alt, id, proof);
        vm.prank(alt);
        oracle.challenge(id, _input(), _output(43), proof);
        uint256 afterwards = oracle.balanceOf(node) + oracle.balanceOf(alt);
        vm.assertEq(before - afterwards, BOND / 2 - FEE, "lost half the bond (less the fee it earned)");
        vm.assertEq(oracle.balanceOf(address(consumer)), BOND / 2, "paid to the requester");
    }

    /// The same for committee disputes: the proposer cannot dispute itself, and a second
    /// address that does (and wins) still costs it half its bond.
    function test_a_self_dispute_loses_money() public {
        uint256 id = consumer.ask{value: FEE}(COMMITTEE, _input());
        vm.prank(node);
        oracle.propose(_one(id), _outs(42));
        vm.prank(node);
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.ProposerCannotChallenge.selector, id));
        oracle.dispute(id);
        address alt = address(0xA17);
        vm.deal(alt, 2 ether);
        vm.prank(alt);
        oracle.deposit{value: BOND}();
        uint256 before = oracle.balanceOf(node) + oracle.balanceOf(alt) + BOND; // + the bond locked
        vm.prank(alt);
        oracle.dispute(id);
        vm.prank(members[0]);
        oracle.vote(id, _output(43));
        vm.prank(members[1]);
        oracle.vote(id, _output(43));
        uint256 afterwards = oracle.balanceOf(node) + oracle.balanceOf(alt);
        vm.assertEq(before - afterwards, BOND / 2 - FEE, "lost half the bond (less the fee)");
        vm.assertEq(oracle.balanceOf(address(consumer)), BOND / 2, "paid to the requester");
    }

    // ------------------------------------------------ committee disputes (no verifier)

    function _disputed() internal returns (uint256 id) {
        id = consumer.ask{value: FEE}(COMMITTEE, _input());
        vm.prank(node);
        oracle.propose(_one(id), _outs(42));
        vm.prank(challenger);
        oracle.dispute(id);
    }

    function test_committee_overturns_wrong_answer() public {
        uint256 id = _disputed();
        vm.prank(members[0]);
        oracle.vote(id, _output(43));
        vm.prank(members[0]);
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.AlreadyVoted.selector, id, members[0]));
        oracle.vote(id, _output(43));
        vm.prank(node);
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.NotCommitteeMember.selector, COMMITTEE, node));
        oracle.vote(id, _output(42));
        vm.prank(members[1]);
        oracle.vote(id, _output(43));
        vm.assertEq(oracle.balanceOf(challenger), 10 ether + BOND / 2 + FEE, "challenger: its bond, half the node's, the fee");
        vm.assertEq(oracle.balanceOf(address(consumer)), BOND / 2, "the requester gets the other half");
        vm.assertEq(oracle.balanceOf(node), 10 ether - BOND, "node slashed");
        vm.assertEq(uint256(consumer.first(id)), 43, "re-executed output delivered");
        vm.assertEq(oracle.lockedBonds(), 0, "nothing locked");
    }

    function test_committee_upholds_right_answer() public {
        uint256 id = _disputed();
        vm.prank(members[2]);
        oracle.vote(id, _output(42));
        vm.prank(members[0]);
        oracle.vote(id, _output(42));
        vm.assertEq(oracle.balanceOf(node), 10 ether + BOND + FEE, "node wins the challenger's bond");
        vm.assertEq(oracle.balanceOf(challenger), 10 ether - BOND, "frivolous challenger slashed");
    }

    function test_dispute_without_quorum_is_abandoned() public {
        uint256 id = _disputed();
        vm.prank(members[0]);
        oracle.vote(id, _output(1));
        vm.prank(members[1]);
        oracle.vote(id, _output(2));
        (, uint32 votingEnds,) = oracle.disputes(id);
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.VotingOpen.selector, id, votingEnds));
        oracle.abandonDispute(id);
        vm.roll(uint256(votingEnds) + 1);
        oracle.abandonDispute(id);
        vm.assertEq(oracle.balanceOf(node), 10 ether, "bond returned");
        vm.assertEq(oracle.balanceOf(challenger), 10 ether, "bond returned");
        vm.assertEq(oracle.balanceOf(address(consumer)), FEE, "requester refunded");
        vm.assertEq(oracle.lockedBonds(), 0, "nothing locked");
    }

    function test_proof_models_refuse_committee_disputes() public {
        uint256 id = consumer.ask{value: FEE}(OPT, _input());
        vm.prank(node);
        oracle.propose(_one(id), _outs(42));
        vm.expectRevert(
            abi.encodeWithSelector(
                InferenceOracle.BadModelConfig.selector, "this model's disputes are settled by proof: call challenge"
            )
        );
        oracle.dispute(id);
    }

    // ------------------------------------------------ money

    function test_withdraw_pull_payment() public {
        uint256 before = node.balance;
        vm.prank(node);
        oracle.withdraw(4 ether);
        vm.assertEq(node.balance, before + 4 ether, "paid out");
        vm.prank(node);
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.InsufficientBalance.selector, node, 7 ether, 6 ether));
        oracle.withdraw(7 ether);
    }

    // ------------------------------------------------ smaller findings

    function test_votes_are_range_checked_like_proposals() public {
        uint256 id = _disputed();
        int256[] memory huge = _output(int256(1) << 64);
        vm.prank(members[0]);
        vm.expectRevert(abi.encodeWithSelector(InferenceOracle.ValueOutOfRange.selector, 0, huge[0], 64));
        oracle.vote(id, huge);
    }

    function test_block_numbers_past_32_bits_are_refused_not_wrapped() public {
        vm.roll(uint256(type(uint32).max) + 1);
        vm.expectRevert(
            abi.encodeWithSelector(InferenceOracle.BlockNumberTooLarge.selector, uint256(type(uint32).max) + 1)
        );
        consumer.ask{value: FEE}(ZK, _input());
        vm.roll(uint256(type(uint32).max) - 5); // a deadline past 2^32 reverts too
        vm.expectRevert(abi.encodeWithSignature("Panic(uint256)", 0x11));
        consumer.ask{value: FEE}(ZK, _input());
    }

    function test_withdraw_to_another_address() public {
        address payable to = payable(address(0x7070));
        vm.prank(node);
        oracle.withdrawTo(to, 3 ether);
        vm.assertEq(to.balance, 3 ether, "sent to the named address");
        vm.assertEq(oracle.balanceOf(node), 7 ether, "from the caller's balance");
        vm.prank(challenger);
        vm.expectRevert(
            abi.encodeWithSelector(InferenceOracle.InsufficientBalance.selector, challenger, 11 ether, 10 ether)
        );
        oracle.withdrawTo(to, 11 ether);
    }

    // ------------------------------------------------ fuzz

    function testFuzz_instances_are_field_elements(int128 a, int128 b) public view {
        int256[] memory x = new int256[](1);
        x[0] = a;
        int256[] memory y = new int256[](1);
        y[0] = b;
        uint256[] memory inst = oracle.instancesOf(x, y);
        uint256 field = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
        vm.assertTrue(inst[0] < field && inst[1] < field, "in field");
        // adding |v| back to a negative encoding wraps to zero
        if (a < 0) vm.assertEq(addmod(inst[0], uint256(-int256(a)), field), 0, "negative a");
        else vm.assertEq(inst[0], uint256(int256(a)), "positive a");
    }

    function testFuzz_only_the_proved_output_is_accepted(int64 proved, int64 claimed) public {
        uint256 id = consumer.ask{value: FEE}(ZK, _input());
        bytes memory proof = _proof(_input(), _output(proved));
        _commit(address(this), id, proof);
        if (proved != claimed) {
            vm.expectRevert(abi.encodeWithSelector(InferenceOracle.InvalidProof.selector, id));
        }
        oracle.fulfill(id, _input(), _output(claimed), proof);
    }
}
