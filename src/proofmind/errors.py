"""The single error hierarchy of proofmind.

Every error says what was wrong, with which input, and what to do about it. The CLI prints
``str(error)`` on one line and exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations


class ProofmindError(Exception):
    """Base class of every error proofmind raises on purpose.

    ``hint`` is the fix a user can apply; it is appended to the message.
    """

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message} — {hint}")


class ConfigError(ProofmindError):
    """A setting, config file or workspace is missing or invalid."""


class WorkspaceError(ConfigError):
    """The `.proofmind/` workspace is missing, unreadable or inconsistent."""


class InputError(ProofmindError):
    """A value given by the user (a file, a number, an address) is invalid."""

    exit_code = 2


class NotFound(InputError):
    """What the user named (a record, an alert, a request, a key) does not exist."""


class CryptoError(ProofmindError):
    """A hash, proof or signature is malformed or does not verify."""


class ChainError(ProofmindError):
    """Talking to the chain failed."""


class ConnectionFailed(ChainError):
    """The chain's RPC endpoint cannot be reached."""


class WrongChain(ChainError):
    """The endpoint answered with a chain id other than the one expected."""


class NodeNotInstalled(ChainError):
    """The anvil binary (or another tool the devnet needs) is not installed."""


class TransactionError(ChainError):
    """A transaction could not be sent or was not mined."""


class InsufficientFunds(TransactionError):
    """The sender cannot pay for value + gas."""


class TransactionTimeout(TransactionError):
    """No receipt arrived within the time allowed."""


class ContractReverted(TransactionError):
    """A call or transaction reverted; carries the decoded reason or custom error."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        reason: str | None = None,
        error_name: str | None = None,
        error_args: tuple[object, ...] = (),
        data: str | None = None,
    ) -> None:
        self.reason = reason
        self.error_name = error_name
        self.error_args = error_args
        self.data = data
        super().__init__(message, hint=hint)


class ReorgDetected(ChainError):
    """The chain reorganised below a block we had already processed."""

    def __init__(self, message: str, *, fork_block: int, hint: str | None = None) -> None:
        self.fork_block = fork_block
        super().__init__(message, hint=hint)


class ContractNotFound(ProofmindError):
    """No compiled artifact or deployment by that name."""


class KeystoreError(ProofmindError):
    """An encrypted keystore is missing, unreadable, or the password is wrong."""


class RecordMismatch(ProofmindError):
    """A file no longer matches the ledger record that names it (changed, or gone)."""
