"""py-evm in this process (web3's EthereumTesterProvider): node-free unit tests."""

from __future__ import annotations

from typing import Any, ClassVar

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from proofmind.chain.base import ChainBackend
from proofmind.errors import NodeNotInstalled


class InProcessBackend(ChainBackend):
    name: ClassVar[str] = "inprocess"

    def __init__(self) -> None:
        self._w3: Web3 | None = None

    def connect(self) -> Web3:
        if self._w3 is None:
            try:
                from web3 import EthereumTesterProvider
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise NodeNotInstalled(
                    "the inprocess backend needs eth-tester with py-evm",
                    hint="pip install 'proofmind[inprocess]'",
                ) from exc
            self._w3 = Web3(EthereumTesterProvider())
        return self._w3

    def signers(self) -> list[LocalAccount]:
        backend: Any = self.connect().provider.ethereum_tester.backend  # type: ignore[attr-defined]
        return [Account.from_key(key.to_bytes()) for key in backend.account_keys]

    def describe(self) -> str:
        return "inprocess (py-evm)"

    @property
    def supports_snapshots(self) -> bool:
        return True
