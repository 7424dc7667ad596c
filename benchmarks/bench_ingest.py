"""Ingestion speed: proofmind `ingest rpc` against cryo and ethereum-etl on one local anvil chain,
in the same run, plus the node's own limit (raw batched eth_getBlockByNumber with full
transactions, no processing). Prints transactions per second and ratios.

The chain: a fresh devnet with automine off; --blocks blocks of --per-block ETH transfers each,
signed locally and sent in batches. cryo and ethereum-etl run from their own virtualenvs
(their dependencies conflict with proofmind's): pass their interpreters, or the script skips
them with a note.

Usage: python benchmarks/bench_ingest.py [--blocks 2000] [--per-block 10]
         [--cryo-python /path/venv/bin/python] [--etl /path/venv/bin/ethereumetl]

The peers' virtualenvs, from PyPI:
    python3 -m venv /tmp/v-cryo && /tmp/v-cryo/bin/pip install cryo polars pyarrow
    python3 -m venv /tmp/v-etl && /tmp/v-etl/bin/pip install ethereum-etl \
        && /tmp/v-etl/bin/pip install parsimonious==0.10.0
(ethereum-etl 2.4's eth-abi pins parsimonious < 0.9, which does not import on Python 3.11;
0.10 works.)
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import requests
from eth_account import Account

from proofmind.chain.devnet import Devnet
from proofmind.intel.ingest import ingest
from proofmind.workspace import init_workspace


def rpc(url: str, batch: list[tuple[str, list[object]]]) -> list[object]:
    payload = [
        {"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(batch)
    ]
    answer = requests.post(url, json=payload, timeout=120).json()
    errors = [a for a in answer if "error" in a]
    if errors:
        raise SystemExit(f"node error: {errors[0]}")
    return [a["result"] for a in sorted(answer, key=lambda a: a["id"])]


def fill(url: str, keys: list[bytes], chain_id: int, blocks: int, per_block: int) -> int:
    """``blocks`` blocks of ``per_block`` signed ETH transfers; returns the head."""
    rpc(url, [("evm_setAutomine", [False])])
    accounts = [Account.from_key(k) for k in keys]
    nonces = [0] * len(accounts)
    gas_price = int(rpc(url, [("eth_gasPrice", [])])[0], 16) * 2  # type: ignore[arg-type]
    for b in range(blocks):
        batch: list[tuple[str, list[object]]] = []
        for t in range(per_block):
            i = (b * per_block + t) % len(accounts)
            tx = {
                "to": accounts[(i + 1) % len(accounts)].address,
                "value": 1 + b,
                "gas": 21_000,
                "gasPrice": gas_price,
                "nonce": nonces[i],
                "chainId": chain_id,
            }
            nonces[i] += 1
            raw = accounts[i].sign_transaction(tx).raw_transaction
            batch.append(("eth_sendRawTransaction", ["0x" + raw.hex()]))
        batch.append(("evm_mine", []))
        rpc(url, batch)
    rpc(url, [("evm_setAutomine", [True])])
    return int(rpc(url, [("eth_blockNumber", [])])[0], 16)  # type: ignore[arg-type]


async def raw_limit(url: str, head: int, batch: int = 100, concurrency: int = 4) -> float:
    """Seconds to fetch every block with full transactions, nothing else."""
    gate = asyncio.Semaphore(concurrency)

    async def one(session: aiohttp.ClientSession, start: int) -> None:
        payload = [
            {"jsonrpc": "2.0", "id": n, "method": "eth_getBlockByNumber", "params": [hex(n), True]}
            for n in range(start, min(start + batch, head + 1))
        ]
        async with gate, session.post(url, json=payload) as response:
            await response.read()

    began = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(one(session, s) for s in range(0, head + 1, batch)))
    return time.perf_counter() - began


def run_cryo(python: str, url: str, head: int, out: Path) -> float:
    code = (
        "import cryo, sys, time; t = time.perf_counter(); "
        f"cryo.freeze('transactions', blocks=['0:{head + 1}'], rpc='{url}', output_dir='{out}', "
        "hex=True, no_verbose=True); print(time.perf_counter() - t)"
    )
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def run_etl(etl: str, url: str, head: int, out: Path) -> float:
    began = time.perf_counter()
    subprocess.run(
        [
            etl,
            "export_blocks_and_transactions",
            "--start-block",
            "0",
            "--end-block",
            str(head),
            "--provider-uri",
            url,
            "--blocks-output",
            str(out / "blocks.csv"),
            "--transactions-output",
            str(out / "transactions.csv"),
            "--batch-size",
            "100",
            "--max-workers",
            "4",
        ],
        capture_output=True,
        check=True,
    )
    return time.perf_counter() - began


def files_and_query(out: Path, range_blocks: int) -> None:
    """How many Parquet files an ingestion left, and how long DuckDB takes to read them."""
    import duckdb

    files = len(list(out.rglob("*.parquet")))
    query = f"SELECT count(*), sum(gas) FROM read_parquet('{out}/transactions/**/*.parquet')"
    duckdb.sql(query).fetchall()
    began = time.perf_counter()
    for _ in range(5):
        duckdb.sql(query).fetchall()
    seconds = (time.perf_counter() - began) / 5
    print(f"{range_blocks}-block ranges: {files:,} files; a scan of transactions {seconds:.4f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=2000)
    parser.add_argument("--per-block", type=int, default=10)
    parser.add_argument("--cryo-python")
    parser.add_argument("--etl")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool (median kept)")
    parser.add_argument(
        "--follower",
        action="store_true",
        help="also ingest one block a range, as a follower commits, and compare the files "
        "it leaves (merged as they accumulate) with the bulk run's",
    )
    args = parser.parse_args()
    print(f"{platform.machine()}, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as folder:
        ws, _ = init_workspace(Path(folder))
        chain = ws.connect()
        url = chain.backend.record.rpc_url  # type: ignore[attr-defined]
        try:
            began = time.perf_counter()
            keys = [bytes(a.key) for a in chain.accounts]
            head = fill(url, keys, chain.chain_id, args.blocks, args.per_block)
            txs = args.blocks * args.per_block
            made = time.perf_counter() - began
            print(f"chain: {head + 1:,} blocks, {txs:,} transactions (made in {made:.0f} s)")
            runs: dict[str, list[float]] = {}

            def timed(name: str, run: Callable[[int], float]) -> None:
                runs[name] = [run(k) for k in range(args.repeat)]

            timed(
                "node limit (raw batched eth_getBlockByNumber)",
                lambda k: asyncio.run(raw_limit(url, head)),
            )

            def proofmind_run(k: int, receipts: bool, range_blocks: int = 1000) -> float:
                report = ingest(
                    chain.w3,
                    url,
                    Path(folder) / f"pm-{receipts}-{range_blocks}-{k}",
                    chain_id=chain.chain_id,
                    receipts=receipts,
                    range_blocks=range_blocks,
                )
                assert report.rows["transactions"] == txs, report.rows
                return report.seconds

            timed("proofmind ingest rpc (blocks + transactions)", lambda k: proofmind_run(k, False))
            timed(
                "proofmind ingest rpc (+ receipts, logs, transfers)",
                lambda k: proofmind_run(k, True),
            )
            if args.follower:
                timed(
                    "proofmind ingest rpc (+ receipts …), one block a range",
                    lambda k: proofmind_run(k, True, range_blocks=1),
                )
                for range_blocks in (1000, 1):
                    files_and_query(Path(folder) / f"pm-True-{range_blocks}-0", range_blocks)
            if args.cryo_python:
                timed(
                    "cryo (transactions)",
                    lambda k: run_cryo(args.cryo_python, url, head, Path(folder) / f"cryo{k}"),
                )
            if args.etl:

                def etl(k: int) -> float:
                    target = Path(folder) / f"etl{k}"
                    target.mkdir()
                    return run_etl(args.etl, url, head, target)

                timed("ethereum-etl export_blocks_and_transactions", etl)
            timings = {name: statistics.median(values) for name, values in runs.items()}
        finally:
            Devnet(ws.chain_dir, ws.devnet_settings()).down()
            ws.close()
    ours = timings["proofmind ingest rpc (blocks + transactions)"]
    print(f"\nmedian of {args.repeat} runs each")
    print("\n| tool | seconds | tx/s | proofmind speed ÷ tool speed |\n|---|---:|---:|---:|")
    for name, seconds in timings.items():
        print(f"| {name} | {seconds:.2f} | {txs / seconds:,.0f} | {seconds / ours:.2f} |")
    limit = timings["node limit (raw batched eth_getBlockByNumber)"]
    print(f"\nproofmind reaches {limit / ours:.0%} of the node's limit (target ≥ 80%)")
    for peer in ("cryo (transactions)",):
        if peer in timings:
            print(f"faster than cryo: {'yes' if ours < timings[peer] else 'NO'}")
    if not args.cryo_python or not args.etl:
        print("(pass --cryo-python and --etl to compare with the peers, each in its own venv)")
    shutil.rmtree(Path(folder), ignore_errors=True)


if __name__ == "__main__":
    main()
