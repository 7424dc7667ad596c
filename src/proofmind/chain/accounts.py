"""Signing accounts: devnet keys derived from a mnemonic, and encrypted keystores (eth-keyfile).

Private keys are never printed, logged, or put in exception messages.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_keyfile.keyfile import create_keyfile_json, decode_keyfile_json

from proofmind.errors import InputError, KeystoreError

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def derive_accounts(mnemonic: str, count: int) -> list[LocalAccount]:
    """The first ``count`` accounts of ``mnemonic`` on the standard path m/44'/60'/0'/0/i."""
    Account.enable_unaudited_hdwallet_features()
    return [
        Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{i}") for i in range(count)
    ]


class Keystore:
    """A folder of encrypted key files (Web3 Secret Storage, scrypt), one per account name."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_of(self, name: str) -> Path:
        if not _NAME.match(name):
            raise InputError(
                f"invalid account name {name!r}",
                hint="use 1-64 letters, digits, '.', '_' or '-'",
            )
        return self.directory / f"{name}.json"

    def names(self) -> list[tuple[str, str]]:
        """(name, checksum address) of every account, sorted by name."""
        found = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                address = json.loads(path.read_text())["address"]
            except (OSError, ValueError, KeyError) as exc:
                raise KeystoreError(
                    f"keystore file {path} is unreadable: {exc}",
                    hint="restore it from a backup or remove it",
                ) from exc
            found.append((path.stem, _checksum(address)))
        return found

    def create(self, name: str, password: str) -> str:
        """Generate a new key, store it encrypted, return its address."""
        return self._store(name, Account.create().key, password)

    def import_key(self, name: str, private_key: str | bytes, password: str) -> str:
        try:
            key = Account.from_key(private_key).key
        except (ValueError, TypeError) as exc:
            raise InputError(
                f"the private key given for {name!r} is not a valid secp256k1 key",
                hint="pass 32 bytes as 64 hex characters (with or without 0x)",
            ) from exc
        return self._store(name, key, password)

    def unlock(self, name: str, password: str) -> LocalAccount:
        path = self.path_of(name)
        if not path.is_file():
            available = ", ".join(n for n, _ in self.names()) or "none"
            raise KeystoreError(
                f"no keystore account named {name!r} in {self.directory} (have: {available})",
                hint=f"create it with `proofmind accounts new {name}` or import a key",
            )
        try:
            key = decode_keyfile_json(json.loads(path.read_text()), password.encode())
        except ValueError as exc:
            raise KeystoreError(
                f"cannot unlock keystore account {name!r}: wrong password or damaged file",
                hint="check PROOFMIND_KEYSTORE_PASSWORD",
            ) from exc
        account: LocalAccount = Account.from_key(key)
        return account

    def _store(self, name: str, key: bytes, password: str) -> str:
        if not password:
            raise InputError(
                "an empty keystore password is not allowed",
                hint="set PROOFMIND_KEYSTORE_PASSWORD or type one at the prompt",
            )
        path = self.path_of(name)
        if path.exists():
            raise KeystoreError(
                f"keystore account {name!r} already exists at {path}",
                hint="choose another name; existing keys are never overwritten",
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        payload = create_keyfile_json(key, password.encode(), kdf="scrypt")
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(payload, handle)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return _checksum(payload["address"])


def _checksum(address: str) -> str:
    from eth_utils.address import to_checksum_address

    return str(to_checksum_address(address if address.startswith("0x") else "0x" + address))
