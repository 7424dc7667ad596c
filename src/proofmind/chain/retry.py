"""Bounded retries with exponential backoff for transient RPC failures."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import requests
from web3.exceptions import TooManyRequests

from proofmind.errors import ChainError

T = TypeVar("T")

TRANSIENT_HTTP = frozenset({429, 500, 502, 503, 504})


def with_retries(call: Callable[[], T], *, retries: int, backoff: float) -> T:
    """Run ``call``; retry connection errors, timeouts, HTTP 429 and 5xx up to ``retries``
    times, doubling the wait from ``backoff`` seconds. Other errors pass through at once."""
    delay = backoff
    for attempt in range(retries + 1):
        try:
            return call()
        except (requests.ConnectionError, requests.Timeout, TooManyRequests) as exc:
            failure: Exception = exc
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            if status not in TRANSIENT_HTTP:
                raise
            failure = exc
        if attempt == retries:
            raise ChainError(
                f"the node did not answer after {attempt + 1} attempts ({type(failure).__name__})",
                hint="check that the node is up; retries are set by PROOFMIND_TX_MAX_RETRIES",
            ) from failure
        time.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover
