"""Content-addressed blob store: each blob lives under the keccak256 of its bytes."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from proofmind.crypto.keccak import keccak256, keccak256_file
from proofmind.errors import InputError, WorkspaceError

_HASH = re.compile(r"^(0x)?[0-9a-f]{64}$")
_CHUNK = 1 << 20


class BlobStore:
    """Blobs under ``root/ab/cdef…``; writes are atomic (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, digest: str) -> Path:
        key = self._key(digest)
        return self.root / key[:2] / key[2:]

    def has(self, digest: str) -> bool:
        return self.path_of(digest).is_file()

    def put(self, data: bytes) -> str:
        digest = "0x" + keccak256(data).hex()
        target = self.path_of(digest)
        if not target.exists():
            self._write_atomically(target, lambda f: f.write(data))
        return digest

    def put_file(self, source: Path) -> str:
        if not source.is_file():
            raise InputError(f"cannot store {source}: not a file", hint="pass an existing file")
        digest = "0x" + keccak256_file(source).hex()
        target = self.path_of(digest)
        if not target.exists():
            with source.open("rb") as src:
                self._write_atomically(target, lambda f: shutil.copyfileobj(src, f, _CHUNK))
        return digest

    def adopt(self, source: Path) -> str:
        """Move ``source`` into the store (no copy: for large generated files)."""
        if not source.is_file():
            raise InputError(f"cannot store {source}: not a file", hint="pass an existing file")
        digest = "0x" + keccak256_file(source).hex()
        target = self.path_of(digest)
        if target.exists():
            source.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(source, target)
            except OSError:  # another filesystem: copy atomically, then drop the source
                with source.open("rb") as src:
                    self._write_atomically(target, lambda f: shutil.copyfileobj(src, f, _CHUNK))
                source.unlink()
        return digest

    def get(self, digest: str) -> bytes:
        path = self.path_of(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise WorkspaceError(
                f"blob {digest} is not in the store at {self.root}",
                hint="store it again with the command that produced it",
            ) from exc
        if "0x" + keccak256(data).hex() != "0x" + self._key(digest):
            raise WorkspaceError(
                f"blob {digest} at {path} is corrupted (its hash no longer matches)",
                hint="delete the file and store the blob again",
            )
        return data

    def _key(self, digest: str) -> str:
        lowered = digest.lower()
        if not _HASH.match(lowered):
            raise InputError(
                f"{digest!r} is not a blob hash",
                hint="a blob hash is 64 hex characters, optionally prefixed with 0x",
            )
        return lowered.removeprefix("0x")

    def _write_atomically(self, target: Path, write: Callable[[BinaryIO], object]) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
