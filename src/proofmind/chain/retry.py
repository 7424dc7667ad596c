"""The one retry policy for JSON-RPC traffic: what is transient, and how long to wait.

The synchronous path (web3 calls: :func:`with_retries`) and the asynchronous batched path
(:class:`~proofmind.chain.batch.BatchedRpc`, bulk ingestion) both read it from here.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import requests
from web3.exceptions import TooManyRequests

from proofmind.chain.redact import redact
from proofmind.errors import (
    ChainError,
    ConnectionFailed,
    InputError,
    NodeNotInstalled,
    ReorgDetected,
    WrongChain,
)

T = TypeVar("T")

# HTTP statuses worth another try: rate limited, or the node / its proxy overloaded
RATE_LIMITED_HTTP = frozenset({429})
OVERLOADED_HTTP = frozenset({500, 502, 503, 504})
TRANSIENT_HTTP = RATE_LIMITED_HTTP | OVERLOADED_HTTP
# JSON-RPC error codes hosted nodes use for "slow down"
RATE_LIMITED_RPC = frozenset({-32005, -32029, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` more attempts after the first, waiting ``backoff`` seconds, doubling each
    time up to ``max_delay``; ``jitter`` spreads the waits of concurrent callers (0: none)."""

    retries: int = 4
    backoff: float = 0.25
    max_delay: float = 30.0
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if self.retries < 0 or self.backoff < 0 or self.max_delay < 0 or self.jitter < 0:
            raise InputError(f"a retry policy takes no negative values, got {self}")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0 for the first)."""
        base = min(self.max_delay, self.backoff * 2.0**attempt)
        return float(base * (1 + self.jitter * random.random()))


def with_retries(
    call: Callable[[], T],
    *,
    retries: int | None = None,
    backoff: float | None = None,
    policy: RetryPolicy | None = None,
) -> T:
    """Run ``call``; retry connection errors, timeouts, HTTP 429 and 5xx as ``policy`` says
    (or ``retries`` / ``backoff``). Other errors pass through at once."""
    if policy is None:
        defaults = RetryPolicy()
        policy = RetryPolicy(
            retries=defaults.retries if retries is None else retries,
            backoff=defaults.backoff if backoff is None else backoff,
        )
    for attempt in range(policy.retries + 1):
        try:
            return call()
        except (requests.ConnectionError, requests.Timeout, TooManyRequests) as exc:
            failure: Exception = exc
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            if status not in TRANSIENT_HTTP:
                raise
            failure = exc
        if attempt == policy.retries:
            # not chained: the transport's exception quotes the URL, and a logged traceback
            # would print it; its redacted first line is kept instead
            raise ChainError(
                f"the node did not answer after {attempt + 1} attempts "
                f"({type(failure).__name__}: {describe(failure)})",
                hint="check that the node is up; retries are set by PROOFMIND_TX_MAX_RETRIES",
            ) from None
        time.sleep(policy.delay(attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def describe(exc: BaseException) -> str:
    """The first line of ``exc``, with any URL and its secrets removed."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    return redact(text[:300], url) if isinstance(url, str) else redact(text[:300])


# what no amount of waiting mends: a reorg deeper than remembered, another chain, no node binary
NEEDS_A_PERSON = (ReorgDetected, WrongChain, NodeNotInstalled)


class Outage:
    """A long-running loop's view of a node that stops answering (a restart, a provider's
    outage): after each error that waiting may mend (:meth:`outlasts`), how
    long to wait before the next round, doubling from ``base`` to ``cap`` seconds and said
    in one warning; back to ``base`` after a round that worked. The monitor, the oracle
    node, the challenge watcher and the agents keep running through it instead of exiting."""

    # what a loop catches around a round (retry_after raises again those waiting cannot mend)
    ERRORS: tuple[type[Exception], ...] = (ChainError, requests.RequestException, TooManyRequests)
    # the loops of this process waiting for their node now (see :meth:`waiting`)
    _waiting: ClassVar[weakref.WeakSet[Outage]] = weakref.WeakSet()
    _waiting_lock: ClassVar[threading.Lock] = threading.Lock()  # loops run on several threads

    def __init__(self, log: logging.Logger, base: float = 1.0, cap: float = 60.0) -> None:
        self.log, self.base, self.cap, self.failures = log, base, cap, 0
        self.since: float | None = None  # when the node stopped answering (None: it answers)
        self.last_error = ""

    @staticmethod
    def outlasts(exc: BaseException) -> bool:
        """Whether waiting may mend ``exc`` (else the loop should stop and say it): a
        ChainError but those of :data:`NEEDS_A_PERSON`, or a transport error of a call made
        without :func:`with_retries` (a JSON-RPC batch, a plain web3 call): no connection, a
        timeout, HTTP 429 or 5xx."""
        if isinstance(exc, ChainError):
            return not isinstance(exc, NEEDS_A_PERSON)
        if isinstance(exc, requests.HTTPError):
            return exc.response is not None and exc.response.status_code in TRANSIENT_HTTP
        return isinstance(exc, (requests.ConnectionError, requests.Timeout, TooManyRequests))

    def retry_after(self, exc: BaseException) -> float:
        """Seconds a loop waits after ``exc`` before its next round (see :meth:`failed`);
        ``exc`` is raised again when waiting cannot mend it. Call it in the ``except``."""
        if not self.outlasts(exc):
            raise exc
        return self.failed(exc)

    def failed(self, exc: BaseException) -> float:
        """Seconds to wait after ``exc``, logged as a warning."""
        self.failures += 1
        wait = float(min(self.cap, self.base * 2**self.failures))
        self.log.warning("%s; retrying in %.0f s", exc, wait)
        self.since = self.since or time.time()
        self.last_error = redact(" ".join(str(exc).split())[:300])
        with Outage._waiting_lock:
            Outage._waiting.add(self)
        return wait

    def ok(self) -> None:
        if self.failures:
            self.log.info("the node answers again")
        self.failures, self.since = 0, None
        with Outage._waiting_lock:
            Outage._waiting.discard(self)

    @classmethod
    def waiting(cls) -> list[dict[str, Any]]:
        """The loops of this process that wait for their node now (a hosted service's health:
        it runs, but does no work): which (its logger), since when, how many failed rounds,
        the last error. A loop that ended is not listed."""
        with cls._waiting_lock:
            loops = list(cls._waiting)
        return sorted(
            (
                {"loop": o.log.name, "since": o.since, "failures": o.failures,
                 "last_error": o.last_error}
                for o in loops
                if o.since is not None
            ),
            key=lambda w: (w["loop"], w["since"]),
        )  # fmt: skip


def node_away(exc: BaseException) -> ConnectionFailed | None:
    """The ConnectionFailed a raw transport error of a plain web3 call stands for (the node
    stopped answering in the middle of a command or an API request), or None: what the CLI
    and the API say instead of calling it a bug. The text is redacted (a node's URL may carry
    a key)."""
    if isinstance(exc, ChainError) or not Outage.outlasts(exc):
        return None
    text = " ".join(str(exc).split())
    text = text if len(text) <= 200 else text[:200] + "…"
    return ConnectionFailed(
        f"the chain node stopped answering: {type(exc).__name__}: {redact(text)}",
        hint="check that it runs (the devnet: `proofmind chain status`, `proofmind chain up`), "
        "then try again",
    )
