"""The pure part of ingestion: a block and its receipts (JSON-RPC answers) → canonical rows of
every table. No I/O here, so it is tested and reused (the live monitor) without a node."""

from __future__ import annotations

from typing import Any

TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
TABLES = ("blocks", "transactions", "logs", "erc20_transfers", "native_transfers")


def _int(value: str | None) -> int | None:
    return None if value is None else int(value, 16)


def block_rows(
    blocks: list[dict[str, Any]], receipts: list[list[dict[str, Any]]]
) -> dict[str, list[dict[str, Any]]]:
    """Canonical rows of every table for ``blocks`` and their receipts."""
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
    for block, block_receipts in zip(blocks, receipts, strict=True):
        number, ts = int(block["number"], 16), int(block["timestamp"], 16)
        rows["blocks"].append(
            {
                "block_number": number,
                "hash": block["hash"],
                "parent_hash": block["parentHash"],
                "timestamp": ts,
                "miner": block["miner"].lower(),
                "gas_used": int(block["gasUsed"], 16),
                "gas_limit": int(block["gasLimit"], 16),
                "base_fee": _int(block.get("baseFeePerGas")),
                "tx_count": len(block["transactions"]),
            }
        )
        by_hash = {r["transactionHash"]: r for r in block_receipts}
        for tx in block["transactions"]:
            receipt = by_hash.get(tx["hash"], {})
            value = int(tx["value"], 16)
            status = _int(receipt.get("status"))
            rows["transactions"].append(
                {
                    "block_number": number,
                    "timestamp": ts,
                    "hash": tx["hash"],
                    "tx_index": int(tx["transactionIndex"], 16),
                    "nonce": int(tx["nonce"], 16),
                    "from_address": tx["from"].lower(),
                    "to_address": tx["to"].lower() if tx.get("to") else None,
                    "value_wei": value,
                    "gas": int(tx["gas"], 16),
                    "gas_price": _int(receipt.get("effectiveGasPrice") or tx.get("gasPrice")) or 0,
                    "gas_used": _int(receipt.get("gasUsed")),
                    "status": status,
                    "input": tx["input"],
                    # as Etherscan has it: the selector, or "0x" for a plain transfer
                    "method_id": tx["input"][:10],
                    "contract_address": (receipt.get("contractAddress") or "").lower() or None,
                }
            )
            if value > 0 and status == 1:
                rows["native_transfers"].append(
                    {
                        "block_number": number,
                        "timestamp": ts,
                        "hash": tx["hash"],
                        "from_address": tx["from"].lower(),
                        "to_address": (
                            tx.get("to") or receipt.get("contractAddress") or ""
                        ).lower(),
                        "value_wei": value,
                    }
                )
            for log in receipt.get("logs", []):
                topics = log["topics"]
                rows["logs"].append(
                    {
                        "block_number": number,
                        "hash": tx["hash"],
                        "log_index": int(log["logIndex"], 16),
                        "address": log["address"].lower(),
                        "topic0": topics[0] if topics else None,
                        "topic1": topics[1] if len(topics) > 1 else None,
                        "topic2": topics[2] if len(topics) > 2 else None,
                        "topic3": topics[3] if len(topics) > 3 else None,
                        "data": log["data"],
                    }
                )
                if topics and topics[0] == TRANSFER_TOPIC and len(topics) == 3:
                    rows["erc20_transfers"].append(
                        {
                            "block_number": number,
                            "timestamp": ts,
                            "hash": tx["hash"],
                            "log_index": int(log["logIndex"], 16),
                            "token": log["address"].lower(),
                            "from_address": "0x" + topics[1][-40:],
                            "to_address": "0x" + topics[2][-40:],
                            "value": str(int(log["data"], 16)) if log["data"] != "0x" else "0",
                            "token_decimals": None,
                            "token_name": None,
                            "token_symbol": None,
                        }
                    )
    return rows
