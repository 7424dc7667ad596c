"""Any JSON-RPC endpoint; signing keys come from the workspace's encrypted keystore."""

from __future__ import annotations

import json
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3
from web3.types import RPCEndpoint, RPCResponse

from proofmind.chain.base import ChainBackend
from proofmind.chain.redact import protect_transport_logs, redact, redact_url
from proofmind.chain.retry import TRANSIENT_HTTP
from proofmind.errors import ChainError, ConfigError, ConnectionFailed

__all__ = ["RpcBackend", "http_web3", "redact_url"]

# statuses whose error keeps its class: retried (429, 5xx) or a range to split (413, eth_getLogs)
_RETRIED_OR_SPLIT = TRANSIENT_HTTP | {413}


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
    web3's built-in retries would multiply them. Its errors and logs never show the URL's
    secrets."""
    protect_transport_logs()
    provider = RedactingHTTPProvider(
        url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
    )
    return Web3(provider)


class RedactingHTTPProvider(HTTPProvider):
    """web3's HTTP provider, but a transport error says what failed without the URL's secrets.

    The error keeps its class (and HTTP response), so :func:`~proofmind.chain.retry.with_retries`
    and the eth_getLogs range handling still tell a 429 from a 413; a body that is not JSON
    becomes a ChainError.
    """

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        try:
            return super().make_request(method, params)
        except requests.RequestException as exc:
            raise _redacted_copy(exc, str(self.endpoint_uri)) from None
        except json.JSONDecodeError:
            raise _not_json(str(self.endpoint_uri), method) from None

    def make_batch_request(
        self, batch_requests: list[tuple[RPCEndpoint, Any]]
    ) -> list[RPCResponse] | RPCResponse:
        try:
            return super().make_batch_request(batch_requests)
        except requests.RequestException as exc:
            raise _redacted_copy(exc, str(self.endpoint_uri)) from None
        except json.JSONDecodeError:
            raise _not_json(str(self.endpoint_uri), "a batch") from None

    def __str__(self) -> str:
        return f"RPC connection {redact_url(str(self.endpoint_uri))}"


def _redacted_copy(exc: requests.RequestException, url: str) -> Exception:
    status = exc.response.status_code if exc.response is not None else None
    if isinstance(exc, requests.HTTPError) and status not in _RETRIED_OR_SPLIT:
        # 401, 403, 404...: no retry cures it, and it is most often a wrong URL or API key
        return ConnectionFailed(
            f"{redact_url(url)} refused the request: HTTP {status} "
            f"{exc.response.reason if exc.response is not None else ''}".rstrip(),
            hint="check the URL and the API key it carries",
        )
    request_url = exc.request.url if exc.request is not None else None
    extra = [request_url.decode() if isinstance(request_url, bytes) else request_url]
    text = redact(str(exc), url, *(u for u in extra if u))
    return type(exc)(text, response=exc.response)


def _not_json(url: str, what: str) -> ChainError:
    return ChainError(
        f"{redact_url(url)} answered {what} with something that is not JSON-RPC",
        hint="check that the URL is the node's JSON-RPC endpoint (a proxy's error page is not)",
    )
