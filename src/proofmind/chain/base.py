"""The one chain interface every backend implements, and the connected `Chain` handle."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from eth_account.signers.local import LocalAccount
from web3 import Web3

from proofmind.errors import ChainError, InputError
from proofmind.settings import TxSettings

if TYPE_CHECKING:
    from proofmind.chain.sender import TxSender


def utc(moment: float) -> str:
    """A unix time (a block's timestamp, an expiry) as messages print it:
    ``2027-01-06 07:44:12 UTC``."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(moment))


class ChainBackend(ABC):
    """A way to reach an EVM chain: the devnet proofmind runs, py-evm in-process, or any RPC."""

    name: ClassVar[str]

    @abstractmethod
    def connect(self) -> Web3:
        """Return a connected Web3; raise ConnectionFailed when the chain cannot be reached."""

    @abstractmethod
    def signers(self) -> list[LocalAccount]:
        """Accounts whose keys proofmind holds to sign transactions locally."""

    @abstractmethod
    def describe(self) -> str:
        """One line for humans: where the chain is. Never includes secrets."""

    @property
    def supports_snapshots(self) -> bool:
        return False

    def close(self) -> None:  # noqa: B027 - most backends hold nothing to release
        """Release what the backend holds (it does not stop a devnet others may use)."""

    def durable_block(self, head: int) -> int:
        """The newest block that survives the node being killed. A real node's blocks are
        as durable as the chain (depth covers reorgs); the devnet's lag behind its dumps."""
        return head

    def persist(self) -> int:
        """Ask the node to make its blocks durable now; returns the newest durable block
        (-1: this backend cannot). Real nodes persist on their own."""
        return -1


@dataclass
class Chain:
    """A connected chain: Web3, its chain id, the signers, and the settings to send with."""

    backend: ChainBackend
    w3: Web3
    chain_id: int
    accounts: list[LocalAccount]
    tx_settings: TxSettings = field(default_factory=TxSettings)
    _senders: dict[str, TxSender] = field(default_factory=dict, repr=False)

    @property
    def default_account(self) -> LocalAccount:
        if not self.accounts:
            raise ChainError(
                f"no signing account on {self.backend.describe()}",
                hint="set [chain] account to a keystore account (`proofmind accounts new NAME`)",
            )
        return self.accounts[0]

    def sender(self, account: LocalAccount | None = None) -> TxSender:
        """The transaction sender for ``account``; one per account so nonces stay consistent."""
        from proofmind.chain.sender import TxSender

        account = account or self.default_account
        sender = self._senders.get(account.address)
        if sender is None:
            sender = TxSender(self.w3, account, self.chain_id, self.tx_settings)
            self._senders[account.address] = sender
        return sender

    def account(self, index_or_address: int | str) -> LocalAccount:
        if isinstance(index_or_address, int):
            if not 0 <= index_or_address < len(self.accounts):
                raise InputError(
                    f"account index {index_or_address} is out of range",
                    hint=f"use 0..{len(self.accounts) - 1}",
                )
            return self.accounts[index_or_address]
        for acct in self.accounts:
            if acct.address.lower() == index_or_address.lower():
                return acct
        raise InputError(
            f"no signing key for {index_or_address} on {self.backend.describe()}",
            hint="import its key into the keystore or pick one of the listed accounts",
        )

    def snapshot(self) -> object:
        """Take an ``evm_snapshot``; returns the id to pass to :meth:`revert`."""
        self._require_snapshots()
        response: Any = self.w3.provider.make_request("evm_snapshot", [])  # type: ignore[arg-type]
        return response["result"]

    def mine(self, blocks: int = 1) -> None:
        """Mine ``blocks`` empty blocks (devnets: ``anvil_mine``, else ``evm_mine``)."""
        self._require_snapshots()
        response: Any = self.w3.provider.make_request("anvil_mine", [hex(blocks)])  # type: ignore[arg-type]
        if response.get("error"):
            for _ in range(blocks):
                self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def revert(self, snapshot_id: object) -> None:
        self._require_snapshots()
        response: Any = self.w3.provider.make_request("evm_revert", [snapshot_id])  # type: ignore[arg-type]
        # anvil answers true; eth-tester answers null; a failure is false or an error
        if response.get("error") or response.get("result") is False:
            raise ChainError(f"evm_revert to snapshot {snapshot_id} failed: {response}")
        for sender in self._senders.values():
            sender.resync_nonce()

    def close(self) -> None:
        self.backend.close()

    def confirmed_block(self, confirmations: int | None = None) -> int:
        """The newest block local state may trust: ``confirmations`` deep (default: the
        settings') and durable. -1 when no block is yet."""
        depth = self.tx_settings.confirmations if confirmations is None else confirmations
        head = int(self.w3.eth.block_number)
        return min(head - depth, self.backend.durable_block(head))

    def wait_confirmed(
        self, block: int, confirmations: int | None = None, timeout: float | None = None
    ) -> bool:
        """Wait until ``block`` is confirmed (see :meth:`confirmed_block`); False on timeout."""
        wait = self.tx_settings.confirmation_timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        head = int(self.w3.eth.block_number)
        if self.backend.durable_block(head) < block:
            self.backend.persist()
        while self.confirmed_block(confirmations) < block:
            if time.monotonic() > deadline:
                return False
            time.sleep(self.tx_settings.poll_interval)
        return True

    def _require_snapshots(self) -> None:
        if not self.backend.supports_snapshots:
            raise ChainError(f"snapshots are not supported on {self.backend.describe()}")
