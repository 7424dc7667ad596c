"""proofmind.crypto's public surface is exactly its __all__, and every name resolves."""

from __future__ import annotations

import proofmind.crypto

EXPECTED = {
    "Eip712Domain",
    "MerkleTree",
    "MultiProof",
    "StandardMerkleTree",
    "abi_encode",
    "hash_pair",
    "hex32",
    "keccak256",
    "keccak256_file",
    "keccak256_hex",
    "leaf_hash",
    "leaf_hashes",
    "make_tree",
    "process_multiproof",
    "process_proof",
    "recover_typed_data",
    "sign_typed_data",
    "to_bytes32",
    "typed_data_hash",
    "verify_multiproof",
    "verify_proof",
    "verify_typed_data",
}


def test_all_is_pinned() -> None:
    assert set(proofmind.crypto.__all__) == EXPECTED


def test_every_name_resolves() -> None:
    for name in proofmind.crypto.__all__:
        assert getattr(proofmind.crypto, name) is not None, name
