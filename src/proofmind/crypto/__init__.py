"""Cryptographic primitives: keccak256, OpenZeppelin-compatible Merkle trees, EIP-712."""

from proofmind.crypto.eip712 import (
    Eip712Domain,
    recover_typed_data,
    sign_typed_data,
    typed_data_hash,
    verify_typed_data,
)
from proofmind.crypto.keccak import hex32, keccak256, keccak256_file, keccak256_hex, to_bytes32
from proofmind.crypto.merkle import (
    MerkleTree,
    MultiProof,
    StandardMerkleTree,
    abi_encode,
    hash_pair,
    leaf_hash,
    leaf_hashes,
    make_tree,
    process_multiproof,
    process_proof,
    verify_multiproof,
    verify_proof,
)

__all__ = [
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
]
