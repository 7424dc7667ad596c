"""Batched JSON-RPC over HTTP, asynchronous: the bulk path to a node (ingestion).

Several batches in flight under a concurrency limit; the batch size halves when the node
refuses or times out and grows back on success; HTTP 429 and rate-limit errors are waited out
with exponential backoff. What is transient and how long to wait is the chain layer's one
:class:`~proofmind.chain.retry.RetryPolicy`; every message is redacted (no URL secrets).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, NoReturn

import aiohttp

from proofmind.chain.redact import protect_transport_logs, redact, redact_url
from proofmind.chain.retry import OVERLOADED_HTTP, RATE_LIMITED_HTTP, RATE_LIMITED_RPC, RetryPolicy
from proofmind.errors import ChainError, ConnectionFailed

# ingestion waits out a rate-limiting provider longer than a transaction does
BULK_RETRY = RetryPolicy(retries=8, backoff=0.25, max_delay=30.0, jitter=1.0)
_TOO_LARGE_HTTP = 413


class BatchedRpc:
    """``call_many`` answers a list of (method, params) in order, in adaptive batches."""

    def __init__(
        self,
        url: str,
        *,
        concurrency: int = 4,
        batch_size: int = 50,
        max_batch: int = 100,
        policy: RetryPolicy = BULK_RETRY,
        timeout: float = 60.0,
    ) -> None:
        protect_transport_logs()
        self.url = url
        self.where = redact_url(url)
        self.batch_size = batch_size
        self.max_batch = max_batch
        self.policy = policy
        self.timeout = timeout
        self.backoffs = 0
        self._gate = asyncio.Semaphore(concurrency)
        self._ids = 0

    async def call_many(
        self, session: aiohttp.ClientSession, calls: list[tuple[str, list[Any]]]
    ) -> list[Any]:
        """Results of ``calls`` in order, split into batches of the current size."""
        out: list[Any] = [None] * len(calls)
        pending = list(range(len(calls)))
        while pending:
            size = max(1, self.batch_size)
            chunks = [pending[i : i + size] for i in range(0, len(pending), size)]
            results = await asyncio.gather(
                *(self._batch(session, [calls[i] for i in c]) for c in chunks)
            )
            pending = []
            for chunk, result in zip(chunks, results, strict=True):
                if result is None:  # refused: retry these with smaller batches
                    pending += chunk
                    continue
                for i, value in zip(chunk, result, strict=True):
                    out[i] = value
        return out

    async def _batch(
        self, session: aiohttp.ClientSession, calls: list[tuple[str, list[Any]]]
    ) -> list[Any] | None:
        payload = []
        for method, params in calls:
            self._ids += 1
            payload.append({"jsonrpc": "2.0", "id": self._ids, "method": method, "params": params})
        failure = "no answer"
        for attempt in range(self.policy.retries + 1):
            try:
                body = await self._post(session, payload)
            except _RateLimited as exc:
                body, failure = None, str(exc)
            except _Refused as exc:
                if len(calls) > 1:
                    self._shrink(len(calls))
                    return None
                body, failure = None, str(exc)  # a single call: back off and try again
            if body is None or _rate_limited(body):
                if body is not None:
                    failure = "rate-limit error in the answer"
                if attempt == self.policy.retries:
                    break
                self.backoffs += 1
                await asyncio.sleep(self.policy.delay(attempt))
                continue
            if isinstance(body, dict):  # one error for the whole batch (e.g. batch too large)
                if len(calls) > 1:
                    self._shrink(len(calls))
                    return None
                self._raise(body)
            by_id = {item["id"]: item for item in body if isinstance(item, dict)}
            results = []
            for request in payload:
                item = by_id.get(request["id"])
                if item is None or "error" in item:
                    if len(calls) > 1:
                        self._shrink(len(calls))
                        return None
                    self._raise(item or {"error": {"message": "no answer"}})
                results.append(item["result"])
            if self.batch_size < self.max_batch:
                self.batch_size = min(
                    self.max_batch, self.batch_size + max(1, self.batch_size // 4)
                )
            return results
        raise ChainError(
            f"{self.where} kept refusing or rate-limiting after {self.policy.retries + 1} "
            f"attempts (last: {failure})",
            hint="lower the load (fewer concurrent batches) or try later",
        )

    async def _post(self, session: aiohttp.ClientSession, payload: list[dict[str, Any]]) -> Any:
        """One attempt; raises _RateLimited / _Refused for what a retry may cure."""
        async with self._gate:
            try:
                async with session.post(
                    self.url, json=payload, timeout=aiohttp.ClientTimeout(total=self.timeout)
                ) as response:
                    if response.status in RATE_LIMITED_HTTP:
                        raise _RateLimited(f"HTTP {response.status}")
                    if response.status in OVERLOADED_HTTP or response.status == _TOO_LARGE_HTTP:
                        raise _Refused(f"HTTP {response.status}")
                    text = await response.text()
            except TimeoutError:
                raise _Refused(f"no answer within {self.timeout:g} s") from None
            except (aiohttp.ClientConnectionError, ConnectionError) as exc:
                reason = redact(str(exc) or type(exc).__name__, self.url)
                raise ConnectionFailed(
                    f"cannot reach {self.where}: {reason}",
                    hint="check the node URL and that it runs",
                ) from None
            except aiohttp.ClientError as exc:
                raise ChainError(
                    f"{self.where} failed: {redact(str(exc) or type(exc).__name__, self.url)}"
                ) from None
        try:
            return json.loads(text)
        except ValueError:
            # a proxy's error page is often transient (a gateway between restarts)
            raise _Refused(f"HTTP {response.status} with a body that is not JSON") from None

    def _shrink(self, size: int) -> None:
        self.batch_size = max(1, min(self.batch_size, size) // 2)

    def _raise(self, body: dict[str, Any]) -> NoReturn:
        error = body.get("error", {})
        message = error.get("message", error) if isinstance(error, dict) else error
        raise ChainError(f"the node refused a request: {redact(str(message), self.url)}")


class _RateLimited(Exception):
    pass


class _Refused(Exception):
    pass


def _rate_limited(body: Any) -> bool:
    items = body if isinstance(body, list) else [body]
    return any(
        isinstance(i, dict)
        and isinstance(i.get("error"), dict)
        and i["error"].get("code") in RATE_LIMITED_RPC
        for i in items
    )
