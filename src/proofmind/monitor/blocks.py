"""Confirmed blocks as ``BlockEvent``s: the block with its transactions and their receipts, mapped
to canonical rows by the same code as `proofmind ingest rpc` (so a reverted transaction has
status 0 here exactly as in the tables)."""

from __future__ import annotations

from typing import Any

from web3 import Web3

from proofmind.chain.retry import RetryPolicy, with_retries
from proofmind.errors import ChainError
from proofmind.intel.ingest import block_rows
from proofmind.monitor.api import BlockEvent


def fetch_block(w3: Web3, number: int, retry: RetryPolicy | None = None) -> BlockEvent:
    """Block ``number`` with its receipts, as one ``BlockEvent``."""

    def request(method: str, params: list[Any]) -> Any:
        def call() -> Any:
            answer = w3.provider.make_request(method, params)  # type: ignore[arg-type]
            if "error" in answer:
                raise ChainError(f"{method}({params[0]}) failed: {answer['error']}")
            return answer.get("result")

        return with_retries(call, policy=retry or RetryPolicy())

    block = request("eth_getBlockByNumber", [hex(number), True])
    if block is None:
        raise ChainError(f"the node has no block {number}", hint="is the node still syncing?")
    receipts = request("eth_getBlockReceipts", [hex(number)]) or []
    rows = block_rows([block], [receipts])
    return BlockEvent(
        number=number,
        hash=str(block["hash"]),
        time=float(int(block["timestamp"], 16)),
        transactions=tuple(rows["transactions"]),
        logs=tuple(rows["logs"]),
        erc20_transfers=tuple(rows["erc20_transfers"]),
        native_transfers=tuple(rows["native_transfers"]),
    )
