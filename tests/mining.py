"""Anvil's mining switched for a test: transactions wait in the pool until a block is mined."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from proofmind.chain.base import Chain


@contextmanager
def manual_mining(chain: Chain, *, interval: int = 0) -> Iterator[None]:
    """No block per transaction inside the block (``chain.mine()`` mines one); with
    ``interval`` a block every that many seconds, as a real chain does. Automine is back on
    afterwards, whatever happens inside."""
    rpc = chain.w3.provider.make_request
    rpc("evm_setAutomine", [False])  # type: ignore[arg-type]
    if interval:
        rpc("evm_setIntervalMining", [interval])  # type: ignore[arg-type]
    try:
        yield
    finally:
        if interval:
            rpc("evm_setIntervalMining", [0])  # type: ignore[arg-type]
        rpc("evm_setAutomine", [True])  # type: ignore[arg-type]
