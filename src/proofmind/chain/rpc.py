"""Any JSON-RPC endpoint; signing keys come from the workspace's encrypted keystore."""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

from eth_account.signers.local import LocalAccount
from web3 import Web3

from proofmind.chain.base import ChainBackend
from proofmind.errors import ConfigError


class RpcBackend(ChainBackend):
    name: ClassVar[str] = "rpc"

    def __init__(
        self, url: str, *, timeout: float = 30.0, signers: list[LocalAccount] | None = None
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"RPC URL {redact_url(url)!r} is not an http(s) URL",
                hint="set PROOFMIND_CHAIN_RPC_URL (or [chain] rpc_url) to e.g. http://127.0.0.1:8545",
            )
        self.url = url
        self.timeout = timeout
        self._signers = signers or []

    def connect(self) -> Web3:
        return http_web3(self.url, self.timeout)

    def signers(self) -> list[LocalAccount]:
        return list(self._signers)

    def describe(self) -> str:
        return f"rpc ({redact_url(self.url)})"


def http_web3(url: str, timeout: float = 30.0) -> Web3:
    """A Web3 over HTTP whose only retries are proofmind's own (bounded, with backoff):
    web3's built-in retries would multiply them."""
    provider = Web3.HTTPProvider(
        url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
    )
    return Web3(provider)


def redact_url(url: str) -> str:
    """Hide credentials and API keys that providers put in URLs (user:pass@, /v3/<key>)."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    path = parts.path
    segments = path.split("/")
    redacted = ["***" if len(seg) >= 20 and seg.isalnum() else seg for seg in segments]
    return urlunsplit((parts.scheme, netloc, "/".join(redacted), "", ""))
