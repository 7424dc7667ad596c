"""Send transactions: local nonces, local signing, gas estimation, retries, receipt waits.

Nonces are assigned under a lock and only consumed when the node accepted the transaction,
so concurrent callers never collide and a refused transaction leaves no gap. Keys sign in this
process (eth-keys uses coincurve when installed); nothing secret leaves it.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import (
    ContractLogicError,
    TimeExhausted,
    TransactionNotFound,
    Web3RPCError,
)
from web3.types import TxParams, TxReceipt

from proofmind.chain.retry import with_retries
from proofmind.chain.revert import DecodedRevert, ErrorDecoder
from proofmind.errors import (
    ChainError,
    ContractReverted,
    InsufficientFunds,
    TransactionError,
    TransactionTimeout,
)
from proofmind.settings import TxSettings

T = TypeVar("T")

KNOWN_TX = ("already known", "known transaction", "already imported")
"""How nodes say they hold this very transaction already (geth, besu, anvil): sent twice, e.g.
again after a timeout that hid the first send's success; it is ours, and it is waited for."""


class TxSender:
    """Sends transactions for one account. Share one instance per account (see Chain.sender)."""

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        chain_id: int,
        settings: TxSettings | None = None,
        decoder: ErrorDecoder | None = None,
    ) -> None:
        self.w3 = w3
        self.account = account
        self.chain_id = chain_id
        self.settings = settings or TxSettings()
        self.decoder = decoder or default_decoder()
        self._lock = threading.Lock()
        self._nonce: int | None = None

    @property
    def address(self) -> str:
        return str(self.account.address)

    def resync_nonce(self) -> None:
        with self._lock:
            self._nonce = None

    # -- public API --------------------------------------------------------------------------

    def transact(
        self, fn: ContractFunction, *, value: int = 0, gas: int | None = None
    ) -> TxReceipt:
        """Call a contract function in a transaction and wait for its receipt."""
        return self.wait(self.submit(_call_params(fn, value, gas), label=f"{fn.fn_name}()"),
                         label=f"{fn.fn_name}()")  # fmt: skip

    def send(self, params: Mapping[str, Any], *, label: str = "transaction") -> TxReceipt:
        """Fill in gas and fees, sign, send with retries, and wait for the receipt."""
        return self.wait(self.submit(params, label=label), label=label)

    def submit(self, params: Mapping[str, Any], *, label: str = "transaction") -> HexBytes:
        """Like :meth:`send` but returns the hash once the node accepted the transaction."""
        tx = dict(params)
        tx["from"] = self.address
        tx["chainId"] = self.chain_id
        if "gas" not in tx:
            tx["gas"] = self._estimate_gas(tx, label)
        self._fill_fees(tx)
        return self._sign_and_send(tx, label)

    def deploy(
        self, abi: list[dict[str, Any]], bytecode: str, *args: Any, label: str = "deploy"
    ) -> TxReceipt:
        factory = self.w3.eth.contract(abi=abi, bytecode=bytecode)
        data = factory.constructor(*args).data_in_transaction
        return self.send({"data": data}, label=label)

    def wait(self, tx_hash: HexBytes, *, label: str = "transaction") -> TxReceipt:
        """Wait for a receipt within ``receipt_timeout``; raise on timeout or revert."""
        deadline = time.monotonic() + self.settings.receipt_timeout
        while True:
            try:
                receipt = self._retry(lambda: self.w3.eth.get_transaction_receipt(tx_hash))
                break
            except (TransactionNotFound, TimeExhausted):
                if time.monotonic() > deadline:
                    raise TransactionTimeout(
                        f"{label} {tx_hash.to_0x_hex()} was not mined within "
                        f"{self.settings.receipt_timeout:.0f}s",
                        hint="raise PROOFMIND_TX_RECEIPT_TIMEOUT or check the node is mining",
                    ) from None
                time.sleep(self.settings.poll_interval)
        if receipt["status"] != 1:
            raise self._reverted_receipt(receipt, label)
        return receipt

    # -- internals ---------------------------------------------------------------------------

    def _estimate_gas(self, tx: dict[str, Any], label: str) -> int:
        try:
            estimate = self._retry(lambda: self.w3.eth.estimate_gas(cast(TxParams, tx)))
        except ContractLogicError as exc:
            raise self.revert_error(exc.data, label, exc.message) from None
        except Web3RPCError as exc:
            raise self._rpc_failure(exc, tx, label) from None
        return gas_limit(estimate, self.settings)

    def _fill_fees(self, tx: dict[str, Any]) -> None:
        if "maxFeePerGas" in tx or "gasPrice" in tx:
            return
        block = self._retry(lambda: self.w3.eth.get_block("latest"))
        base_fee = block.get("baseFeePerGas")
        if base_fee is None:
            tx["gasPrice"] = self._retry(lambda: self.w3.eth.gas_price)
            return
        tip = Web3.to_wei(self.settings.priority_fee_gwei, "gwei")
        tx["maxPriorityFeePerGas"] = tip
        tx["maxFeePerGas"] = 2 * int(base_fee) + tip
        tx["type"] = 2

    def _sign_and_send(self, tx: dict[str, Any], label: str) -> HexBytes:
        for attempt in range(self.settings.max_retries + 1):
            with self._lock:
                if self._nonce is None:
                    self._nonce = self._retry(
                        lambda: self.w3.eth.get_transaction_count(self.account.address, "pending")
                    )
                tx["nonce"] = self._nonce
                signed = self.account.sign_transaction(tx)
                try:
                    tx_hash = self._retry(
                        functools.partial(self.w3.eth.send_raw_transaction, signed.raw_transaction)
                    )
                except Web3RPCError as exc:
                    text = _rpc_message(exc).lower()
                    if any(known in text for known in KNOWN_TX):
                        tx_hash = HexBytes(signed.hash)
                    elif "nonce too low" in text or "replacement transaction" in text:
                        self._nonce = None  # someone else used it: resync and try again
                        if attempt < self.settings.max_retries:
                            continue
                        raise self._rpc_failure(exc, tx, label) from None
                    else:
                        raise self._rpc_failure(exc, tx, label) from None
                self._nonce += 1
                return HexBytes(tx_hash)
        raise TransactionError(f"{label} could not be sent")  # pragma: no cover

    def _retry(self, call: Callable[[], T]) -> T:
        return with_retries(
            call, retries=self.settings.max_retries, backoff=self.settings.backoff_seconds
        )

    def _rpc_failure(self, exc: Web3RPCError, tx: dict[str, Any], label: str) -> ChainError:
        text = _rpc_message(exc)
        if "insufficient funds" in text.lower():
            balance = self.w3.eth.get_balance(self.account.address)
            return InsufficientFunds(
                f"{label} from {self.address} needs more ether than its balance of "
                f"{Web3.from_wei(balance, 'ether')} ETH (value {tx.get('value', 0)} wei + gas)",
                hint=f"fund {self.address} or send less",
            )
        data = _revert_data(exc)
        if data is not None or "revert" in text.lower():
            return self.revert_error(data, label, text)
        return TransactionError(f"{label} was refused by the node: {text}")

    def revert_error(self, data: Any, label: str, message: str | None) -> ContractReverted:
        """The ContractReverted for revert ``data``, decoded against the shipped ABIs."""
        decoded: DecodedRevert = self.decoder.decode(
            data if isinstance(data, str | bytes) else None
        )
        if decoded.name is None and message and "revert" in message.lower() and not data:
            decoded = DecodedRevert(None, (), message.removeprefix("execution reverted: "))
        return ContractReverted(
            f"{label} reverted: {decoded.reason}",
            hint="the contract refused the call; check its arguments and state",
            reason=decoded.reason,
            error_name=decoded.name,
            error_args=decoded.args,
            data=data if isinstance(data, str) else None,
        )

    def _reverted_receipt(self, receipt: TxReceipt, label: str) -> ContractReverted:
        """A mined transaction failed: replay it as a call at its block to learn why."""
        tx = self.w3.eth.get_transaction(receipt["transactionHash"])
        call: TxParams = {"from": tx["from"], "to": tx["to"], "data": tx["input"]}
        if tx.get("value"):
            call["value"] = tx["value"]
        try:
            self.w3.eth.call(call, receipt["blockNumber"] - 1)
        except ContractLogicError as exc:
            return self.revert_error(exc.data, label, exc.message)
        except Web3RPCError as exc:
            return self.revert_error(_revert_data(exc), label, _rpc_message(exc))
        return ContractReverted(
            f"{label} {receipt['transactionHash'].to_0x_hex()} failed (status 0) "
            f"using {receipt['gasUsed']} gas",
            hint="it may have run out of gas; retry with a higher gas limit",
        )


SLOT_HEADROOM = 25_000
"""Gas always added over a small estimate. A storage write the estimate ran as an update of an
existing slot can be a write to a fresh slot (20,000 gas more) once mined: a checkpoint keyed by
the block's timestamp (ERC20Votes' mint and delegate, a Governor's votes) estimated in the
block of the previous checkpoint and mined in the next one. 20% of a 67,000-gas mint was not
enough (the mint reverted out of gas on a busy devnet)."""


def gas_limit(estimate: int, settings: TxSettings) -> int:
    """The gas limit sent for ``estimate``: ``gas_multiplier`` times it, and at least
    `SLOT_HEADROOM` more."""
    return max(int(estimate * settings.gas_multiplier), estimate + SLOT_HEADROOM)


def _call_params(fn: ContractFunction, value: int, gas: int | None) -> dict[str, Any]:
    params: dict[str, Any] = {"to": fn.address, "data": fn._encode_transaction_data()}
    if value:
        params["value"] = value
    if gas is not None:
        params["gas"] = gas
    return params


def _rpc_message(exc: Web3RPCError) -> str:
    response = getattr(exc, "rpc_response", None) or {}
    error = response.get("error") if isinstance(response, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return str(exc.message if hasattr(exc, "message") else exc)


def _revert_data(exc: Web3RPCError) -> str | None:
    response = getattr(exc, "rpc_response", None) or {}
    error = response.get("error") if isinstance(response, dict) else None
    data = error.get("data") if isinstance(error, dict) else None
    if isinstance(data, dict):
        data = data.get("data")
    return data if isinstance(data, str) and data.startswith("0x") else None


def default_decoder() -> ErrorDecoder:
    """A decoder that knows the custom errors of every contract proofmind ships."""
    from proofmind.chain.contracts import load_all_abis

    return ErrorDecoder(load_all_abis())
