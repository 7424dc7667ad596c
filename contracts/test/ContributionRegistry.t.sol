// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ContributionRegistry} from "../src/ContributionRegistry.sol";
import {OwnerKeyWallet} from "./utils/OwnerKeyWallet.sol";
import {Test} from "./utils/Test.sol";

contract ContributionRegistryTest is Test {
    ContributionRegistry internal registry;
    uint256 internal constant KEY = 0xC0FFEE;
    address internal contributor;
    bytes32 internal id;

    function setUp() public {
        vm.warp(1_000_000);
        registry = new ContributionRegistry();
        contributor = vm.addr(KEY);
        id = registry.contributionId(keccak256("dataset"), keccak256("rows"), 40, keccak256("CC-BY-4.0"), true, 2_000_000, 0);
    }

    function _revokeSignature(bytes32 contribution, uint256 nonce, uint256 deadline, uint256 key)
        internal
        view
        returns (bytes memory)
    {
        return _revokeSignature(contributor, contribution, nonce, deadline, key);
    }

    function _revokeSignature(address who, bytes32 contribution, uint256 nonce, uint256 deadline, uint256 key)
        internal
        view
        returns (bytes memory)
    {
        bytes32 structHash = keccak256(abi.encode(registry.REVOKE_TYPEHASH(), who, contribution, nonce, deadline));
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", registry.domainSeparator(), structHash));
        vm.assertEq(digest, registry.revokeDigest(who, contribution, nonce, deadline), "revokeDigest");
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function test_aContributorRevokesOnceAndForAll() public {
        vm.prank(contributor);
        registry.revoke(id);
        vm.assertTrue(registry.isRevoked(contributor, id), "revoked");
        vm.assertEq(registry.revokedAt(contributor, id), block.timestamp, "when");
        vm.prank(contributor);
        vm.expectRevert(abi.encodeWithSelector(ContributionRegistry.AlreadyRevoked.selector, contributor, id));
        registry.revoke(id);
    }

    function test_revocationIsPerContributor() public {
        registry.revoke(id); // this contract, not the contributor
        vm.assertFalse(registry.isRevoked(contributor, id), "someone else cannot revoke it");
    }

    function test_aRelayedRevocation() public {
        bytes memory signature = _revokeSignature(id, 0, block.timestamp + 1 hours, KEY);
        registry.revokeFor(contributor, id, block.timestamp + 1 hours, signature);
        vm.assertTrue(registry.isRevoked(contributor, id), "revoked");
        vm.assertEq(registry.nonces(contributor), 1, "nonce used");
    }

    function test_aReplayedRevocationSignatureIsRefused() public {
        bytes32 other = keccak256("other contribution");
        bytes memory signature = _revokeSignature(id, 0, block.timestamp + 1 hours, KEY);
        registry.revokeFor(contributor, id, block.timestamp + 1 hours, signature);
        // the same signature again: nonce 1 is expected now, so it recovers another signer
        vm.expectRevert(abi.encodeWithSelector(ContributionRegistry.InvalidSignature.selector, contributor));
        registry.revokeFor(contributor, id, block.timestamp + 1 hours, signature);
        bytes memory forOther = _revokeSignature(other, 0, block.timestamp + 1 hours, KEY);
        vm.expectRevert(abi.encodeWithSelector(ContributionRegistry.InvalidSignature.selector, contributor));
        registry.revokeFor(contributor, other, block.timestamp + 1 hours, forOther);
    }

    function test_anExpiredRevocationSignatureIsRefused() public {
        uint256 deadline = block.timestamp + 10;
        bytes memory signature = _revokeSignature(id, 0, deadline, KEY);
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(ContributionRegistry.ExpiredSignature.selector, deadline));
        registry.revokeFor(contributor, id, deadline, signature);
    }

    function testFuzz_aSignatureByAnotherKeyIsRefused(uint256 key) public {
        key = bound(key, 1, 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140);
        vm.assume(key != KEY);
        bytes memory signature = _revokeSignature(id, 0, block.timestamp + 1, key);
        vm.expectRevert(abi.encodeWithSelector(ContributionRegistry.InvalidSignature.selector, contributor));
        registry.revokeFor(contributor, id, block.timestamp + 1, signature);
    }

    function testFuzz_idsCommitToEveryField(bytes32 dataset, bytes32 rows, uint64 expiry) public view {
        bytes32 a = registry.contributionId(dataset, rows, 1, bytes32(0), true, expiry, 0);
        vm.assertTrue(a != registry.contributionId(dataset, rows, 1, bytes32(0), false, expiry, 0), "consent");
        vm.assertTrue(a != registry.contributionId(dataset, rows, 2, bytes32(0), true, expiry, 0), "count");
        vm.assertTrue(a != registry.contributionId(dataset, rows, 1, bytes32(0), true, expiry, 1), "nonce");
    }

    function test_anErc1271WalletRevokesByItsOwnersSignature() public {
        OwnerKeyWallet wallet = new OwnerKeyWallet(contributor);
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _revokeSignature(address(wallet), id, 0, deadline, KEY);
        registry.revokeFor(address(wallet), id, deadline, signature);
        vm.assertTrue(registry.isRevoked(address(wallet), id), "revoked for the wallet");
        vm.assertFalse(registry.isRevoked(contributor, id), "not for the owner key itself");
    }

    function test_aRevocationForOneWalletDoesNotReplayOnAnotherOfTheSameOwner() public {
        OwnerKeyWallet walletA = new OwnerKeyWallet(contributor);
        OwnerKeyWallet walletB = new OwnerKeyWallet(contributor);
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory forA = _revokeSignature(address(walletA), id, 0, deadline, KEY);
        registry.revokeFor(address(walletA), id, deadline, forA);
        // walletB's nonce is 0 as well: only the contributor in the signed struct tells them apart
        vm.expectRevert(abi.encodeWithSelector(ContributionRegistry.InvalidSignature.selector, address(walletB)));
        registry.revokeFor(address(walletB), id, deadline, forA);
        vm.assertFalse(registry.isRevoked(address(walletB), id), "walletB keeps its consent");
    }

    function test_aCancelledNonceVoidsTheSignatureMadeWithIt() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory stuck = _revokeSignature(id, 0, deadline, KEY);
        vm.expectEmit(true, false, false, true);
        emit ContributionRegistry.NonceCancelled(contributor, 0);
        vm.prank(contributor);
        vm.assertEq(registry.useNonce(), 0, "the nonce cancelled");
        vm.expectRevert(abi.encodeWithSelector(ContributionRegistry.InvalidSignature.selector, contributor));
        registry.revokeFor(contributor, id, deadline, stuck);
        // the next signature takes the next nonce and goes through
        registry.revokeFor(contributor, id, deadline, _revokeSignature(id, 1, deadline, KEY));
        vm.assertTrue(registry.isRevoked(contributor, id), "revoked with nonce 1");
    }

    function test_aWalletCancelsItsOwnNonce() public {
        OwnerKeyWallet wallet = new OwnerKeyWallet(contributor);
        vm.prank(contributor);
        wallet.execute(address(registry), abi.encodeCall(ContributionRegistry.useNonce, ()));
        vm.assertEq(registry.nonces(address(wallet)), 1, "the wallet's nonce moved");
        vm.assertEq(registry.nonces(contributor), 0, "not the owner key's");
    }
}
