// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {InferenceOracle, IInferenceConsumer} from "../src/InferenceOracle.sol";
import {AcceptAll} from "./InferenceOracle.t.sol";
import {Test} from "./utils/Test.sol";

/// @dev The "model" of these tests: out = (x0 + 2 x1 + x2) mod 5. A proof is valid only for
///      the true output of its input (and is keccak256 of the public inputs), so a challenge
///      can overturn only a wrong answer.
contract TruthVerifier {
    function truth(uint256 a, uint256 b, uint256 c) public pure returns (uint256) {
        return (a + 2 * b + c) % 5;
    }

    function verifyProof(bytes calldata proof, uint256[] calldata instances) external pure returns (bool) {
        require(proof.length == 32 && instances.length == 4, "bad proof");
        return bytes32(proof) == keccak256(abi.encode(instances))
            && instances[3] == truth(instances[0], instances[1], instances[2]);
    }
}

/// @dev Records every callback and the gas it arrived with.
contract GasCountingConsumer is IInferenceConsumer {
    InferenceOracle public immutable oracle;
    uint32 public constant LIMIT = 200_000;
    mapping(uint256 => uint256) public calls;
    mapping(uint256 => uint256) public received;

    constructor(InferenceOracle oracle_) {
        oracle = oracle_;
    }

    function ask(bytes32 modelId, int256[] calldata input) external payable returns (uint256) {
        return oracle.requestInference{value: msg.value}(modelId, input, LIMIT);
    }

    function onInference(uint256 requestId, int256[] calldata) external {
        received[requestId] = gasleft();
        require(msg.sender == address(oracle), "not oracle");
        calls[requestId] += 1;
    }
}

/// @dev An honest node, an always-online honest watcher (and committee) that act once per
///      block, and attackers who act in between: a liar who proposes wrong answers and, through
///      a second address, challenges or disputes them itself; a copier who front-runs proposals,
///      fulfilments and challenges with copied data; a squatter who registers the owner's keys;
///      and anyone finalizing with as little gas as it can.
contract AdversarialHandler is Test {
    InferenceOracle public immutable oracle;
    GasCountingConsumer public immutable consumer;
    TruthVerifier public immutable verifier;
    bytes32 public immutable zkModel;
    bytes32 public immutable optModel;
    bytes32 public immutable committeeModel;
    uint96 public constant BOND = 1 ether;
    uint64 public constant FEE = 0.01 ether;

    address public constant HONEST_NODE = address(0xB0B);
    address public constant WATCHER = address(0xC4A1);
    address public constant LIAR = address(0x1A12);
    address public constant LIAR_ALT = address(0x1A13);
    address public constant COPIER = address(0xC0C0);
    address public constant SQUATTER = address(0x5A7);
    address[3] public members;
    address[6] public actors = [HONEST_NODE, WATCHER, LIAR, LIAR_ALT, COPIER, SQUATTER];

    uint256[] public ids;
    mapping(address => uint256) public deposited;
    mapping(uint256 => bool) public liarProposed;
    /// the watcher committed (or disputed) before anyone else could
    mapping(uint256 => bool) public watcherFirst;
    mapping(uint256 => uint256) internal watcherCommittedAt;
    mapping(uint256 => bytes) internal proofs;

    constructor(
        InferenceOracle oracle_,
        GasCountingConsumer consumer_,
        TruthVerifier verifier_,
        bytes32[3] memory models,
        address[3] memory members_
    ) {
        oracle = oracle_;
        consumer = consumer_;
        verifier = verifier_;
        (zkModel, optModel, committeeModel) = (models[0], models[1], models[2]);
        members = members_;
        for (uint256 i = 0; i < actors.length; i++) {
            vm.deal(actors[i], 1_000 ether);
            vm.prank(actors[i]);
            oracle.deposit{value: 20 ether}();
            deposited[actors[i]] = 20 ether;
        }
        vm.deal(address(this), 1_000 ether);
    }

    /// keccak256(abi.encode(true output)) of a request
    function truthHash(uint256 id) external view returns (bytes32) {
        return keccak256(abi.encode(_truth(inputOf[id])));
    }

    function idCount() external view returns (uint256) {
        return ids.length;
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    // ------------------------------------------------ helpers

    function _input(uint256 seed) internal pure returns (int256[] memory x) {
        x = new int256[](3);
        x[0] = int256(seed % 7);
        x[1] = int256((seed / 7) % 7);
        x[2] = 2;
    }

    function _truth(int256[] memory x) internal view returns (int256[] memory y) {
        y = new int256[](1);
        y[0] = int256(verifier.truth(uint256(x[0]), uint256(x[1]), uint256(x[2])));
    }

    function _lie(int256[] memory x) internal view returns (int256[] memory y) {
        y = _truth(x);
        y[0] = (y[0] + 1) % 5;
    }

    function _proof(int256[] memory input, int256[] memory output) internal view returns (bytes memory) {
        return abi.encodePacked(keccak256(abi.encode(oracle.instancesOf(input, output))));
    }

    function _id(uint256 seed) internal view returns (uint256) {
        return ids.length == 0 ? 0 : ids[seed % ids.length];
    }

    mapping(uint256 => int256[]) internal inputOf;

    function _commit(address who, uint256 id, bytes memory proof) internal returns (bool) {
        vm.prank(who);
        try oracle.commit(id, keccak256(abi.encode(id, who, keccak256(proof)))) {
            return true;
        } catch {
            return false;
        }
    }

    function _one(uint256 id, int256[] memory output) internal pure returns (uint256[] memory one, int256[][] memory outs) {
        one = new uint256[](1);
        one[0] = id;
        outs = new int256[][](1);
        outs[0] = output;
    }

    // ------------------------------------------------ the honest side (once per block)

    /// The watcher and the committee act at the start of each block, before any attacker:
    /// reveal committed challenges and fulfilments, vote in disputes.
    function _honestBlock() internal {
        for (uint256 i = 0; i < ids.length; i++) {
            uint256 id = ids[i];
            InferenceOracle.Request memory r = oracle.getRequest(id);
            int256[] memory x = inputOf[id];
            int256[] memory y = _truth(x); // computed before the prank: it is a call
            if (r.status == InferenceOracle.Status.Proposed && watcherCommittedAt[id] != 0) {
                vm.prank(WATCHER);
                try oracle.challenge(id, x, y, proofs[id]) {} catch {}
            } else if (r.status == InferenceOracle.Status.Pending && watcherCommittedAt[id] != 0) {
                vm.prank(HONEST_NODE); // the honest prover reveals its committed zk answer
                try oracle.fulfill(id, x, y, proofs[id]) {} catch {}
            } else if (r.status == InferenceOracle.Status.Disputed) {
                for (uint256 m = 0; m < 3; m++) {
                    vm.prank(members[m]);
                    try oracle.vote(id, y) {} catch {}
                }
            }
        }
    }

    function mine(uint256 blocks) external {
        blocks = bound(blocks, 1, 4);
        for (uint256 b = 0; b < blocks; b++) {
            vm.roll(block.number + 1);
            _honestBlock();
        }
    }

    function request(uint256 modelSeed, uint256 inputSeed) external {
        bytes32 model = [zkModel, optModel, committeeModel][modelSeed % 3];
        int256[] memory x = _input(inputSeed);
        try consumer.ask{value: FEE}(model, x) returns (uint256 id) {
            ids.push(id);
            inputOf[id] = x;
            if (model == zkModel) { // the honest prover commits to its proof at once
                proofs[id] = _proof(x, _truth(x));
                if (_commit(HONEST_NODE, id, proofs[id])) watcherCommittedAt[id] = block.number;
            }
        } catch {}
    }

    /// The honest node proposes the true answers of a batch of requests.
    function honestPropose(uint256 seed, uint256 count) external {
        count = bound(count, 1, 3);
        uint256[] memory batch = new uint256[](count);
        int256[][] memory outs = new int256[][](count);
        for (uint256 i = 0; i < count; i++) {
            batch[i] = _id(seed + i);
            outs[i] = _truth(inputOf[batch[i]]);
        }
        vm.prank(HONEST_NODE);
        try oracle.propose(batch, outs) {} catch {}
    }

    // ------------------------------------------------ attackers

    /// The liar proposes a wrong answer; its second address may front-run the watcher with
    /// a challenge commitment or a dispute of its own. The watcher then challenges too.
    function liarPropose(uint256 seed, bool altFirst) external {
        uint256 id = _id(seed);
        if (id == 0 || oracle.getRequest(id).status != InferenceOracle.Status.Pending) return;
        int256[] memory x = inputOf[id];
        (uint256[] memory one, int256[][] memory outs) = _one(id, _lie(x));
        vm.prank(LIAR);
        try oracle.propose(one, outs) {} catch { return; }
        if (oracle.getRequest(id).node != LIAR) return; // skipped: no longer pending
        liarProposed[id] = true;
        bool committee = id != 0 && oracle.getRequest(id).modelId == committeeModel;
        if (altFirst) {
            if (committee) {
                vm.prank(LIAR_ALT);
                try oracle.dispute(id) {} catch {}
            } else { // commits and reveals a block later, before the watcher notices
                int256[] memory y = _truth(x);
                bytes memory proof = _proof(x, y);
                _commit(LIAR_ALT, id, proof);
                vm.roll(block.number + 1);
                vm.prank(LIAR_ALT);
                try oracle.challenge(id, x, y, proof) {} catch {}
            }
        }
        if (committee) {
            vm.prank(WATCHER);
            try oracle.dispute(id) {
                watcherFirst[id] = true;
            } catch {}
        } else {
            proofs[id] = _proof(x, _truth(x));
            if (_commit(WATCHER, id, proofs[id])) {
                watcherCommittedAt[id] = block.number;
                watcherFirst[id] = !altFirst;
            }
        }
    }

    /// The liar's second address reveals a challenge it committed to.
    function altReveal(uint256 seed) external {
        uint256 id = _id(seed);
        int256[] memory x = inputOf[id];
        int256[] memory y = _truth(x);
        bytes memory proof = _proof(x, y);
        vm.prank(LIAR_ALT);
        try oracle.challenge(id, x, y, proof) {} catch {}
    }

    /// The copier front-runs: proposes a copied (true) answer of a request the honest node is
    /// about to batch, or sends a copy of a proof it saw revealed (as fulfilment or challenge),
    /// with or without a commitment of its own made now.
    function copy(uint256 seed, uint256 what) external {
        uint256 id = _id(seed);
        int256[] memory x = inputOf[id];
        int256[] memory y = _truth(x);
        bytes memory proof = _proof(x, y);
        what = what % 4;
        if (what == 0) {
            (uint256[] memory one, int256[][] memory outs) = _one(id, _truth(x));
            vm.prank(COPIER);
            try oracle.propose(one, outs) {} catch {}
            return;
        }
        if (what == 1) _commit(COPIER, id, proof);
        vm.prank(COPIER);
        if (what == 3) {
            try oracle.challenge(id, x, y, proof) {} catch {}
        } else {
            try oracle.fulfill(id, x, y, proof) {} catch {}
        }
    }

    /// An attacker challenges or disputes a correct answer of the honest node.
    function griefHonest(uint256 seed) external {
        uint256 id = _id(seed);
        int256[] memory x = inputOf[id];
        vm.prank(COPIER);
        try oracle.dispute(id) {} catch {}
        int256[] memory lie = _lie(x);
        bytes memory wrong = _proof(x, lie); // no valid proof of a wrong output exists
        _commit(COPIER, id, wrong);
        vm.roll(block.number + 1);
        _honestBlock();
        vm.prank(COPIER);
        try oracle.challenge(id, x, lie, wrong) {} catch {}
    }

    /// The squatter registers the owner's keys (with an accept-all verifier and a huge bond).
    function squat(uint256 which) external {
        AcceptAll yes = new AcceptAll();
        InferenceOracle.ModelConfig memory cfg = InferenceOracle.ModelConfig({
            verifier: address(yes),
            mode: InferenceOracle.Mode.Optimistic,
            inputLength: 3,
            outputLength: 1,
            valueBits: 64,
            fee: 0,
            bond: 20 ether,
            challengeWindow: 5,
            timeout: 20,
            quorum: 0,
            committee: new address[](0)
        });
        bytes32 key = [keccak256("zk-model"), keccak256("optimistic-model"), keccak256("committee-model")][which % 3];
        vm.prank(SQUATTER);
        try oracle.registerModel(key, cfg) {} catch {}
    }

    /// Anyone finalizes, sending as little gas as it likes.
    function finalizeWithGas(uint256 seed, uint256 gas) external {
        uint256 id = _id(seed);
        InferenceOracle.Request memory r = oracle.getRequest(id);
        if (r.status != InferenceOracle.Status.Proposed) return;
        int256[] memory x = inputOf[id];
        int256[] memory out = r.node == LIAR ? _lie(x) : _truth(x);
        (uint256[] memory one, int256[][] memory outs) = _one(id, out);
        gas = bound(gas, 100_000, 600_000);
        (bool ok,) = address(oracle).call{gas: gas}(abi.encodeCall(InferenceOracle.finalize, (one, outs)));
        ok; // a failed attempt changes nothing
    }

    function abandonOrRefund(uint256 seed) external {
        uint256 id = _id(seed);
        try oracle.abandonDispute(id) {} catch {}
        try oracle.refund(id) {} catch {}
    }
}

contract InferenceOracleInvariantTest is Test {
    InferenceOracle internal oracle;
    GasCountingConsumer internal consumer;
    TruthVerifier internal verifier;
    AdversarialHandler internal handler;
    bytes32 internal ownerZk;
    bytes32 internal ownerOpt;
    uint256 internal constant DISPATCH = 2_000; // gas the consumer spends before gasleft()

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
            fee: 0.01 ether,
            bond: 1 ether,
            challengeWindow: 4,
            timeout: 30,
            quorum: quorum,
            committee: committee
        });
    }

    function setUp() public {
        vm.roll(100);
        oracle = new InferenceOracle();
        verifier = new TruthVerifier();
        consumer = new GasCountingConsumer(oracle);
        address[3] memory members = [address(0x3001), address(0x3002), address(0x3003)];
        address[] memory committee = new address[](3);
        for (uint256 i = 0; i < 3; i++) {
            committee[i] = members[i];
        }
        ownerZk = oracle.registerModel(keccak256("zk-model"), _cfg(address(verifier), InferenceOracle.Mode.Zk, new address[](0), 0));
        ownerOpt = oracle.registerModel(
            keccak256("optimistic-model"), _cfg(address(verifier), InferenceOracle.Mode.Optimistic, new address[](0), 0)
        );
        bytes32 ownerCommittee = oracle.registerModel(
            keccak256("committee-model"), _cfg(address(0), InferenceOracle.Mode.Optimistic, committee, 2)
        );
        handler = new AdversarialHandler(oracle, consumer, verifier, [ownerZk, ownerOpt, ownerCommittee], members);
        vm.deal(address(handler), 1_000 ether);
        targetContract(address(handler));
    }

    /// what `who` has locked in open proposals and disputes
    function _locked(address who) internal view returns (uint256 total) {
        for (uint256 i = 0; i < handler.idCount(); i++) {
            uint256 id = handler.ids(i);
            InferenceOracle.Request memory r = oracle.getRequest(id);
            if ((r.status == InferenceOracle.Status.Proposed || r.status == InferenceOracle.Status.Disputed) && r.node == who) {
                total += 1 ether;
            }
            (address challenger,,) = oracle.disputes(id);
            if (r.status == InferenceOracle.Status.Disputed && challenger == who) total += 1 ether;
        }
    }

    /// every wei the oracle holds is owed to exactly one place
    function invariant_ethConserved() public view {
        uint256 owed = oracle.lockedBonds() + oracle.balanceOf(address(consumer));
        for (uint256 i = 0; i < handler.actorCount(); i++) {
            owed += oracle.balanceOf(handler.actors(i));
        }
        for (uint256 i = 0; i < handler.idCount(); i++) {
            InferenceOracle.Request memory r = oracle.getRequest(handler.ids(i));
            if (r.status == InferenceOracle.Status.Pending || r.status == InferenceOracle.Status.Proposed || r.status == InferenceOracle.Status.Disputed) {
                owed += r.fee;
            }
        }
        vm.assertEq(address(oracle).balance, owed, "balance = balances + locked bonds + open fees");
    }

    /// an honest node (true answers only) never loses its bond
    function invariant_honestNodeNeverLoses() public view {
        address n = handler.HONEST_NODE();
        vm.assertTrue(oracle.balanceOf(n) + _locked(n) >= handler.deposited(n), "honest node lost money");
    }

    /// a wrong answer never stands, and its proposer never comes out ahead
    function invariant_wrongProposerAlwaysLoses() public view {
        for (uint256 i = 0; i < handler.idCount(); i++) {
            uint256 id = handler.ids(i);
            if (!handler.liarProposed(id)) continue;
            InferenceOracle.Request memory r = oracle.getRequest(id);
            if (r.status == InferenceOracle.Status.Fulfilled) {
                vm.assertEq(r.outputHash, handler.truthHash(id), "a wrong answer stood");
            }
        }
        address liar = handler.LIAR();
        address alt = handler.LIAR_ALT();
        uint256 now_ = oracle.balanceOf(liar) + _locked(liar) + oracle.balanceOf(alt) + _locked(alt);
        vm.assertTrue(now_ <= handler.deposited(liar) + handler.deposited(alt), "the liar gained");
    }

    /// an honest challenger who committed first gains from every challenge it made
    function invariant_firstCommittedChallengerGains() public view {
        address w = handler.WATCHER();
        uint256 won;
        for (uint256 i = 0; i < handler.idCount(); i++) {
            uint256 id = handler.ids(i);
            if (!handler.watcherFirst(id)) continue;
            InferenceOracle.Request memory r = oracle.getRequest(id);
            if (r.status == InferenceOracle.Status.Fulfilled) won++;
        }
        vm.assertTrue(oracle.balanceOf(w) + _locked(w) >= handler.deposited(w) + won * 0.5 ether, "watcher did not gain");
    }

    /// every consumer callback that happened had its whole gas limit
    function invariant_callbacksGetTheirLimit() public view {
        for (uint256 i = 0; i < handler.idCount(); i++) {
            uint256 id = handler.ids(i);
            if (consumer.calls(id) == 0) continue;
            vm.assertEq(consumer.calls(id), 1, "called back once");
            vm.assertTrue(consumer.received(id) + DISPATCH >= consumer.LIMIT(), "callback starved");
        }
    }

    /// squatting the owner's keys never changes the owner's models
    function invariant_ownerModelsUntouched() public view {
        InferenceOracle.Model memory m = oracle.getModel(ownerOpt);
        vm.assertEq(m.owner, address(this), "owner");
        vm.assertEq(m.verifier, address(verifier), "verifier");
        vm.assertEq(uint256(m.bond), 1 ether, "bond");
        vm.assertEq(oracle.getModel(ownerZk).verifier, address(verifier), "zk verifier");
    }
}
