"""Replay a recorded price history into a `ReplayPriceFeed` on a devnet, round by round.

The feed answers like a Chainlink aggregator, so `monitor run --feed` (and any contract that
reads AggregatorV3Interface) sees the history as if it happened on chain. Each round keeps the
price's own time as ``updatedAt``. A long warm-up (the days a depeg detector needs to learn the
peg) can go in batches of rounds per transaction; the rest goes one round per transaction, so
every later price lands in a block of its own, where a monitor can be timed against it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from web3.contract import Contract

from proofmind.chain.base import Chain
from proofmind.chain.contracts import deploy
from proofmind.errors import InputError
from proofmind.monitor.prices import PriceSeries

FEED_CONTRACT = "ReplayPriceFeed"
SAMPLE = "feed_sample.csv.gz"
MAX_BATCH = 200  # rounds per transaction: about 6 M gas


def sample_path() -> Path:
    """The shipped real sample: FEI and USDC hourly prices, 2022-05-20 to 2022-08-25."""
    return Path(str(resources.files("proofmind.monitor") / "data" / SAMPLE))


def deploy_feed(chain: Chain, description: str, decimals: int = 8) -> Contract:
    """A new ReplayPriceFeed owned by the chain's default account."""
    if not 0 <= decimals <= 36:
        raise InputError(f"feed decimals must be 0 to 36, got {decimals}")
    feed, _ = deploy(chain, FEED_CONTRACT, decimals, description, chain.sender().address)
    return feed


def one_series(series: PriceSeries, symbol: str) -> tuple[list[int], list[float]]:
    """The times (whole seconds) and prices of ``symbol``, ready to push."""
    mask = series.symbol == symbol
    if not mask.any():
        known = ", ".join(sorted(set(series.symbol.tolist())))
        raise InputError(f"no prices of {symbol!r} in the series", hint=f"symbols: {known}")
    return [int(t) for t in series.time[mask]], [float(p) for p in series.price[mask]]


@dataclass(frozen=True)
class Pushed:
    """Rounds ``first``..``last`` (ids) went into block ``block``."""

    first: int
    last: int
    block: int
    time: int  # updatedAt of the last round


def push_history(
    chain: Chain,
    feed: Contract,
    times: list[int],
    prices: list[float],
    *,
    warmup: int = 0,
    batch: int = MAX_BATCH,
    interval: float = 0.0,
    on_push: Callable[[Pushed], None] | None = None,
) -> list[Pushed]:
    """Push ``prices`` observed at ``times``: the first ``warmup`` in transactions of up to
    ``batch`` rounds, then one round per transaction, ``interval`` seconds apart."""
    if len(times) != len(prices):
        raise InputError(f"{len(times)} times but {len(prices)} prices")
    if not 1 <= batch <= MAX_BATCH:
        raise InputError(f"batch must be 1 to {MAX_BATCH} rounds, got {batch}")
    if any(b < a for a, b in itertools.pairwise(times)):
        raise InputError("the times are not in order", hint="sort the series by time")
    decimals = int(feed.functions.decimals().call())
    answers = [int(np.rint(p * 10**decimals)) for p in prices]
    sender = chain.sender()
    first = int(feed.functions.latestRound().call()) + 1
    pushed: list[Pushed] = []
    start = 0
    while start < len(times):
        size = min(batch, warmup - start) if start < warmup else 1
        chunk = slice(start, start + size)
        if size == 1:
            fn = feed.functions.pushRound(answers[start], times[start])
        else:
            fn = feed.functions.pushRounds(answers[chunk], times[chunk])
        receipt = sender.transact(fn)
        done = Pushed(first + start, first + start + size - 1, int(receipt["blockNumber"]),
                      times[start + size - 1])  # fmt: skip
        pushed.append(done)
        if on_push is not None:
            on_push(done)
        start += size
        if interval and start >= warmup and start < len(times):
            time.sleep(interval)
    return pushed
