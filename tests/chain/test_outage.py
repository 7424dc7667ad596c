"""How a long-running loop waits out a node that stops answering (`chain.retry.Outage`)."""

from __future__ import annotations

import logging

import pytest
import requests

from proofmind.chain.retry import Outage
from proofmind.errors import ChainError, ContractReverted, ReorgDetected, WrongChain


def _http_error(status: int) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    return requests.HTTPError(f"{status} error", response=response)


def test_waits_double_to_a_cap_and_start_over_after_a_round_that_worked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = Outage(logging.getLogger("test.outage"), base=1.0, cap=10.0)
    caplog.set_level(logging.INFO, logger="test.outage")
    waits = [outage.failed(ChainError("the node did not answer")) for _ in range(5)]
    assert waits == [2.0, 4.0, 8.0, 10.0, 10.0]
    outage.ok()
    assert outage.failed(ChainError("again")) == 2.0
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "the node did not answer; retrying in 2 s"
    assert "the node answers again" in messages


def test_what_waiting_may_mend() -> None:
    mended = [
        ChainError("the node did not answer after 5 attempts"),
        ContractReverted("reverted"),  # a bug path: logged and retried, not fatal
        requests.ConnectionError("refused"),
        requests.Timeout("slow"),
        _http_error(503),
        _http_error(429),
    ]
    assert all(Outage.outlasts(exc) for exc in mended)
    fatal = [
        ReorgDetected("deep", fork_block=3),
        WrongChain("another chain"),
        _http_error(401),
        ValueError("a bug"),
    ]
    assert not any(Outage.outlasts(exc) for exc in fatal)
    outage = Outage(logging.getLogger("test.outage"))
    with pytest.raises(WrongChain):  # what a loop calls in its except: raised again
        outage.retry_after(WrongChain("another chain"))
    assert outage.retry_after(requests.ConnectionError("refused")) == 2.0
