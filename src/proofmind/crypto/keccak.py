"""keccak256 helpers (the C implementation from safe-pysha3: about 1 µs a hash)."""

from __future__ import annotations

from pathlib import Path

import sha3

from proofmind.errors import InputError


def keccak256(data: bytes) -> bytes:
    return bytes(sha3.keccak_256(data).digest())


def keccak256_hex(data: bytes) -> str:
    return "0x" + keccak256(data).hex()


def keccak256_file(path: Path, chunk_size: int = 1 << 20) -> bytes:
    """Hash a file in chunks, so its size does not matter."""
    hasher = sha3.keccak_256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            hasher.update(chunk)
    return bytes(hasher.digest())


def to_bytes32(value: str | bytes) -> bytes:
    """Parse a 32-byte value given as bytes or hex (with or without 0x)."""
    if isinstance(value, bytes):
        data = value
    else:
        try:
            data = bytes.fromhex(value.removeprefix("0x"))
        except ValueError:
            raise InputError(
                f"{value!r} is not hex", hint="pass 64 hex characters, optionally with 0x"
            ) from None
    if len(data) != 32:
        raise InputError(
            f"expected 32 bytes, got {len(data)} ({value!r})",
            hint="pass 64 hex characters, optionally with 0x",
        )
    return data


def hex32(value: bytes) -> str:
    return "0x" + value.hex()
