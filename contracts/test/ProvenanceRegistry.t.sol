// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ProvenanceRegistry} from "../src/ProvenanceRegistry.sol";
import {OwnerKeyWallet} from "./utils/OwnerKeyWallet.sol";
import {Test} from "./utils/Test.sol";

contract ProvenanceRegistryTest is Test {
    ProvenanceRegistry internal registry;
    uint256 internal constant ALICE_KEY = 0xA11CE;
    address internal alice;
    address internal constant RELAYER = address(0xBEEF);

    function setUp() public {
        registry = new ProvenanceRegistry();
        alice = vm.addr(ALICE_KEY);
        vm.warp(1_800_000_000);
    }

    function _input(ProvenanceRegistry.Kind kind, bytes32 hash, bytes32[] memory parents)
        internal
        pure
        returns (ProvenanceRegistry.RecordInput memory)
    {
        return ProvenanceRegistry.RecordInput({
            kind: kind, contentHash: hash, uri: "ipfs://x", parents: parents, supersedes: bytes32(0)
        });
    }

    function _one(bytes32 id) internal pure returns (bytes32[] memory list) {
        list = new bytes32[](1);
        list[0] = id;
    }

    function _lineage() internal returns (bytes32 dataset, bytes32 run, bytes32 model) {
        vm.startPrank(alice);
        dataset = registry.register(_input(ProvenanceRegistry.Kind.Dataset, keccak256("rows"), new bytes32[](0)));
        run = registry.register(_input(ProvenanceRegistry.Kind.TrainingRun, keccak256("log"), _one(dataset)));
        model = registry.register(_input(ProvenanceRegistry.Kind.Model, keccak256("onnx"), _one(run)));
        vm.stopPrank();
    }

    function test_lineageIsRecorded() public {
        (bytes32 dataset, bytes32 run, bytes32 model) = _lineage();
        vm.prank(RELAYER);
        bytes32 inference =
            registry.register(_input(ProvenanceRegistry.Kind.Inference, keccak256("answer"), _one(model)));
        vm.assertEq(registry.recordCount(), 4, "count");
        ProvenanceRegistry.Record memory r = registry.recordOf(run);
        vm.assertEq(r.creator, alice, "creator");
        vm.assertEq(uint256(r.kind), uint256(ProvenanceRegistry.Kind.TrainingRun), "kind");
        vm.assertEq(r.registeredAt, 1_800_000_000, "time");
        vm.assertTrue(registry.exists(dataset) && registry.exists(inference), "exists");
        vm.assertEq(
            registry.recordId(_input(ProvenanceRegistry.Kind.Model, keccak256("onnx"), _one(run)), alice),
            model,
            "id recomputes from the fields"
        );
    }

    function test_nothingIsOverwritten() public {
        vm.startPrank(alice);
        ProvenanceRegistry.RecordInput memory input =
            _input(ProvenanceRegistry.Kind.Dataset, keccak256("rows"), new bytes32[](0));
        bytes32 id = registry.register(input);
        vm.expectRevert(abi.encodeWithSelector(ProvenanceRegistry.RecordExists.selector, id));
        registry.register(input);
        vm.stopPrank();
    }

    function test_parentRules() public {
        (bytes32 dataset,, bytes32 model) = _lineage();
        vm.expectRevert(
            abi.encodeWithSelector(
                ProvenanceRegistry.ParentKindNotAllowed.selector,
                ProvenanceRegistry.Kind.Model,
                dataset,
                ProvenanceRegistry.Kind.Dataset
            )
        );
        registry.register(_input(ProvenanceRegistry.Kind.Model, keccak256("m2"), _one(dataset)));
        vm.expectRevert(abi.encodeWithSelector(ProvenanceRegistry.UnknownParent.selector, keccak256("nope")));
        registry.register(_input(ProvenanceRegistry.Kind.TrainingRun, keccak256("r2"), _one(keccak256("nope"))));
        vm.expectRevert(abi.encodeWithSelector(ProvenanceRegistry.InferenceNeedsModel.selector));
        registry.register(_input(ProvenanceRegistry.Kind.Inference, keccak256("a"), new bytes32[](0)));
        // fine-tuning: a run may start from a model
        registry.register(_input(ProvenanceRegistry.Kind.TrainingRun, keccak256("ft"), _one(model)));
    }

    function test_supersedeOnlyOwnRecordOfSameKind() public {
        (bytes32 dataset,, bytes32 model) = _lineage();
        ProvenanceRegistry.RecordInput memory v2 =
            _input(ProvenanceRegistry.Kind.Dataset, keccak256("rows v2"), new bytes32[](0));
        v2.supersedes = dataset;
        vm.expectRevert(abi.encodeWithSelector(ProvenanceRegistry.CannotSupersede.selector, dataset));
        vm.prank(RELAYER);
        registry.register(v2);
        v2.supersedes = model;
        vm.expectRevert(abi.encodeWithSelector(ProvenanceRegistry.CannotSupersede.selector, model));
        vm.prank(alice);
        registry.register(v2);
        v2.supersedes = dataset;
        vm.prank(alice);
        registry.register(v2);
        vm.assertTrue(registry.exists(dataset), "the superseded record stays");
    }

    function _signed(ProvenanceRegistry.RecordInput memory input, uint256 nonce, uint256 deadline, uint256 key)
        internal
        view
        returns (bytes memory)
    {
        return _signedFor(alice, input, nonce, deadline, key);
    }

    function _signedFor(
        address creator,
        ProvenanceRegistry.RecordInput memory input,
        uint256 nonce,
        uint256 deadline,
        uint256 key
    ) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, registry.registerDigest(input, creator, nonce, deadline));
        return abi.encodePacked(r, s, v);
    }

    function test_anErc1271WalletRegistersByItsOwnersSignature() public {
        OwnerKeyWallet wallet = new OwnerKeyWallet(alice);
        ProvenanceRegistry.RecordInput memory input =
            _input(ProvenanceRegistry.Kind.Dataset, keccak256("wallet rows"), new bytes32[](0));
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _signedFor(address(wallet), input, 0, deadline, ALICE_KEY);
        vm.prank(RELAYER);
        bytes32 id = registry.registerFor(input, address(wallet), deadline, signature);
        vm.assertEq(registry.recordOf(id).creator, address(wallet), "the wallet is the creator");
        vm.assertEq(registry.nonces(address(wallet)), 1, "the wallet's nonce is used");
    }

    function test_aRegistrationForOneWalletDoesNotReplayOnAnotherOfTheSameOwner() public {
        OwnerKeyWallet walletA = new OwnerKeyWallet(alice);
        OwnerKeyWallet walletB = new OwnerKeyWallet(alice);
        ProvenanceRegistry.RecordInput memory input =
            _input(ProvenanceRegistry.Kind.Dataset, keccak256("only for A"), new bytes32[](0));
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory forA = _signedFor(address(walletA), input, 0, deadline, ALICE_KEY);
        vm.prank(RELAYER);
        registry.registerFor(input, address(walletA), deadline, forA);
        // walletB's nonce is 0 as well: only the creator in the signed struct tells them apart
        vm.expectRevert(abi.encodeWithSelector(ProvenanceRegistry.InvalidSignature.selector, address(walletB)));
        vm.prank(RELAYER);
        registry.registerFor(input, address(walletB), deadline, forA);
        vm.assertFalse(registry.exists(registry.recordId(input, address(walletB))), "nothing in walletB's name");
    }

    function test_aCancelledNonceVoidsTheSignatureMadeWithIt() public {
        ProvenanceRegistry.RecordInput memory input =
            _input(ProvenanceRegistry.Kind.Dataset, keccak256("changed my mind"), new bytes32[](0));
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory stuck = _signed(input, 0, deadline, ALICE_KEY);
        vm.expectEmit(true, false, false, true);
        emit ProvenanceRegistry.NonceCancelled(alice, 0);
        vm.prank(alice);
        vm.assertEq(registry.useNonce(), 0, "the nonce cancelled");
        vm.expectRevert(abi.encodeWithSelector(ProvenanceRegistry.InvalidSignature.selector, alice));
        vm.prank(RELAYER);
        registry.registerFor(input, alice, deadline, stuck);
        vm.prank(RELAYER);
        bytes32 id = registry.registerFor(input, alice, deadline, _signed(input, 1, deadline, ALICE_KEY));
        vm.assertEq(registry.recordOf(id).creator, alice, "registered with nonce 1");
    }

    function test_relayedRegistrationAndReplay() public {
        ProvenanceRegistry.RecordInput memory input =
            _input(ProvenanceRegistry.Kind.Dataset, keccak256("signed rows"), new bytes32[](0));
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _signed(input, 0, deadline, ALICE_KEY);
        vm.prank(RELAYER);
        bytes32 id = registry.registerFor(input, alice, deadline, signature);
        vm.assertEq(registry.recordOf(id).creator, alice, "creator is the signer");
        vm.assertEq(registry.nonces(alice), 1, "nonce used");
        // the same signature again: the nonce moved on, so it no longer matches
        vm.expectRevert(abi.encodeWithSelector(ProvenanceRegistry.InvalidSignature.selector, alice));
        registry.registerFor(input, alice, deadline, signature);
    }

    function test_expiredAndForeignSignaturesFail() public {
        ProvenanceRegistry.RecordInput memory input =
            _input(ProvenanceRegistry.Kind.Dataset, keccak256("late"), new bytes32[](0));
        uint256 deadline = block.timestamp + 10;
        bytes memory signature = _signed(input, 0, deadline, ALICE_KEY);
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(ProvenanceRegistry.ExpiredSignature.selector, deadline));
        registry.registerFor(input, alice, deadline, signature);
        vm.warp(deadline - 5);
        bytes memory mallory = _signed(input, 0, deadline, 0xBAD);
        vm.expectRevert(abi.encodeWithSelector(ProvenanceRegistry.InvalidSignature.selector, alice));
        registry.registerFor(input, alice, deadline, mallory);
        input.uri = "ipfs://changed";
        vm.expectRevert(abi.encodeWithSelector(ProvenanceRegistry.InvalidSignature.selector, alice));
        registry.registerFor(input, alice, deadline, signature);
    }

    function test_batchGasPerRecord() public {
        (bytes32 dataset,,) = _lineage();
        ProvenanceRegistry.RecordInput[] memory batch = new ProvenanceRegistry.RecordInput[](50);
        for (uint256 i = 0; i < 50; ++i) {
            batch[i] = _input(ProvenanceRegistry.Kind.TrainingRun, keccak256(abi.encode(i)), _one(dataset));
        }
        vm.prank(alice);
        uint256 before = gasleft();
        bytes32[] memory ids = registry.registerBatch(batch);
        uint256 perRecord = (before - gasleft()) / 50;
        vm.assertEq(ids.length, 50, "ids");
        vm.assertTrue(perRecord <= 60_000, "execution gas per record at batch 50 exceeds 60k");
    }

    function testFuzz_idCommitsToEveryField(bytes32 hash, string calldata uri, bytes32 other) public {
        vm.assume(hash != bytes32(0) && other != bytes32(0) && other != hash);
        ProvenanceRegistry.RecordInput memory a =
            ProvenanceRegistry.RecordInput(ProvenanceRegistry.Kind.Dataset, hash, uri, new bytes32[](0), bytes32(0));
        ProvenanceRegistry.RecordInput memory b =
            ProvenanceRegistry.RecordInput(ProvenanceRegistry.Kind.Dataset, other, uri, new bytes32[](0), bytes32(0));
        bytes32 idA = registry.recordId(a, alice);
        vm.assertTrue(idA != registry.recordId(b, alice), "content hash");
        vm.assertTrue(idA != registry.recordId(a, RELAYER), "creator");
        a.kind = ProvenanceRegistry.Kind.Model;
        vm.assertTrue(idA != registry.recordId(a, alice), "kind");
    }
}
