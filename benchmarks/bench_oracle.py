"""The verifiable AI oracle on a local anvil devnet that mines a block every second.

For the reference MLP (16-32-1) and the fraud MLP (43-16-1, trained on ../shared's eth_fraud
era-invariant features; skipped with a note when ../shared is absent):
  - packaging time, logrows, and the pre-flight estimates against the measured proving time;
  - proving time through proofmind (`zk.prove`: witness, proof, public-input checks) against
    bare `ezkl.prove` on the same witness (the peer; ratio printed), median of 3;
  - proof size, the verifier's gas (an `eth_estimateGas` of `verifyProof`) and a whole
    `fulfill` transaction's gas;
  - request → callback latency in blocks with the oracle node serving (zk mode).
Optimistic mode (reference MLP): gas per proposal and per finalization, one request per
transaction and 50 per transaction; a burst of requests served by the node: requests/s and the
request → proposal latency in blocks (p50, p95).

Targets (issue: verifiable AI oracle): verify ≤ 600k gas; optimistic fulfilment ≤ 120k gas
per request (≤ 60k batched); p50 optimistic latency ≤ 2 blocks.

Usage: python benchmarks/bench_oracle.py [--burst 200] [--no-fraud]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from proofmind.chain.base import Chain
from proofmind.chain.connect import open_chain
from proofmind.chain.contracts import deploy
from proofmind.chain.devnet import Devnet, DevnetBackend
from proofmind.ml import zk
from proofmind.ml.onnx_models import reference_mlp
from proofmind.oracle.client import Mode, OracleClient, Terms
from proofmind.oracle.node import NodeConfig, OracleNode
from proofmind.settings import DevnetSettings, TxSettings
from proofmind.store.blobs import BlobStore

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "eth_fraud"


def package(
    model: Path, samples: np.ndarray, blobs: BlobStore, name: str
) -> tuple[zk.Package, float, zk.Preflight]:
    calibration = model.with_suffix(".calibration.csv")
    np.savetxt(calibration, samples, delimiter=",")
    pre = zk.preflight(model, calibration)
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the development-SRS warning
        pkg = zk.package(model, calibration, store=blobs.adopt, path_of=blobs.path_of, name=name)
    return pkg, time.perf_counter() - began, pre


def bare_prove_seconds(pkg: zk.Package, values: list[int], work: Path) -> float:
    """The peer: ezkl.prove alone on a witness made beforehand."""
    import ezkl

    data = work / "input.json"
    data.write_text(json.dumps({"input_data": [[v / 2**pkg.input_scale for v in values]]}))
    witness = work / "witness.json"
    ezkl.gen_witness(str(data), str(pkg.paths["circuit"]), str(witness))
    began = time.perf_counter()
    ezkl.prove(
        str(witness),
        str(pkg.paths["circuit"]),
        str(pkg.paths["pk"]),
        str(work / "p.json"),
        str(pkg.paths["srs"]),
    )
    return time.perf_counter() - began


def run_node(node: OracleNode) -> threading.Thread:
    thread = threading.Thread(target=lambda: asyncio.run(node.run()), daemon=True)
    thread.start()
    return thread


def wait_for(condition, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the oracle did not answer in time")
        time.sleep(0.1)


def zk_model(
    chain: Chain,
    oracle: OracleClient,
    pkg: zk.Package,
    inputs: list[list[int]],
    work: Path,
    db: Path,
) -> dict[str, object]:
    proofs, ours, bare = [], [], []
    for x in inputs[:3]:
        began = time.perf_counter()
        proofs.append(zk.prove(pkg, x))
        ours.append(time.perf_counter() - began)
        bare.append(bare_prove_seconds(pkg, x, work))
    verifier = oracle.deploy_verifier(pkg)
    contract = chain.w3.eth.contract(address=verifier, abi=pkg.verifier_abi)  # type: ignore[arg-type]
    call = contract.functions.verifyProof(proofs[0].proof, proofs[0].instances)
    verify_gas = call.estimate_gas()
    data = bytes.fromhex(call._encode_transaction_data().removeprefix("0x"))
    intrinsic = 21_000 + sum(16 if b else 4 for b in data)
    model_id = oracle.register_package(pkg, Terms(Mode.ZK, timeout=10_000), verifier=verifier)
    request = oracle.request(model_id, inputs[0])
    # a prover commits to its proof, then reveals it (fulfill) in a later block
    commit_gas = oracle.commit(request, proofs[0].proof)["gasUsed"]
    fulfil_gas = oracle.fulfill(request, proofs[0])["gasUsed"]
    # latency with the node serving: request block → fulfilment (callback) block
    start = chain.w3.eth.block_number + 1
    node = OracleNode(
        chain, oracle, db, [pkg], config=NodeConfig(start_block=start, poll_interval=0.1)
    )
    thread = run_node(node)
    latencies = []
    try:
        for x in inputs[3:6]:
            rid = oracle.request(model_id, x)
            asked = oracle.oracle.events.InferenceRequested().get_logs(
                from_block=start, argument_filters={"requestId": rid}
            )[0]["blockNumber"]
            wait_for(lambda r=rid: oracle.state(r).status.name == "FULFILLED", 600)
            done = oracle.oracle.events.InferenceFulfilled().get_logs(
                from_block=start, argument_filters={"requestId": rid}
            )[0]["blockNumber"]
            latencies.append(done - asked)
    finally:
        node.stop()
        thread.join(60)
    return {
        "logrows": pkg.logrows,
        "prove_s": statistics.median(ours),
        "bare_ezkl_prove_s": statistics.median(bare),
        "proof_bytes": len(proofs[0].proof),
        "verify_gas": verify_gas,
        "verify_exec_gas": verify_gas - intrinsic,
        "commit_gas": commit_gas,
        "fulfil_gas": fulfil_gas,
        "latency_blocks": latencies,
    }


def optimistic(
    chain: Chain,
    oracle: OracleClient,
    pkg: zk.Package,
    inputs: list[list[int]],
    burst: int,
    db: Path,
) -> dict[str, object]:
    terms = Terms(Mode.OPTIMISTIC, fee=10**12, bond=10**15, challenge_window=2, timeout=10_000)
    model_id = oracle.register_package(pkg, terms)
    oracle.deposit(10**15 * (burst + 200))
    answers = [zk.circuit_output(pkg, x) for x in inputs]
    gas: dict[str, float] = {}
    for size in (1, 50):
        ids = [oracle.request(model_id, inputs[i % len(inputs)], fee=10**12) for i in range(size)]
        outs = [answers[i % len(inputs)] for i in range(size)]
        gas[f"propose_x{size}"] = oracle.propose(ids, outs)["gasUsed"] / size
        chain.mine(3)
        gas[f"finalize_x{size}"] = oracle.finalize(ids, outs)["gasUsed"] / size
    # the node serving a burst, then a steady stream (2 requests a second)
    sender = chain.sender(chain.accounts[1])
    events = oracle.oracle.events

    def send(count: int, pause: float) -> list[int]:
        hashes = []
        for i in range(count):
            fn = oracle.oracle.functions.requestInference(model_id, inputs[i % len(inputs)], 0)
            tx = {"to": oracle.address, "data": fn._encode_transaction_data(), "value": 10**12}
            hashes.append(sender.submit({**tx, "gas": 300_000}))
            time.sleep(pause)
        receipts = [sender.wait(h) for h in hashes]
        return [int(r["blockNumber"]) for r in receipts]

    def latencies(first: int) -> list[int]:
        head = chain.w3.eth.block_number
        asked = {
            e["args"]["requestId"]: e["blockNumber"]
            for e in events.InferenceRequested().get_logs(from_block=first, to_block=head)
        }
        proposed = {
            e["args"]["requestId"]: e["blockNumber"]
            for e in events.InferenceProposed().get_logs(from_block=first, to_block=head)
        }
        return [proposed[r] - asked[r] for r in asked if r in proposed]

    start = chain.w3.eth.block_number + 1
    node = OracleNode(
        chain, oracle, db, [pkg], config=NodeConfig(start_block=start, poll_interval=0.05)
    )
    thread = run_node(node)
    try:
        began = time.perf_counter()
        send(burst, 0)
        wait_for(lambda: len(latencies(start)) >= burst, 600)
        served = time.perf_counter() - began
        burst_latency = latencies(start)
        steady_start = chain.w3.eth.block_number + 1
        steady = 60
        send(steady, 0.5)
        wait_for(lambda: len(latencies(steady_start)) >= steady, 120)
        steady_latency = latencies(steady_start)
    finally:
        node.stop()
        thread.join(60)
    return {
        **gas,
        "burst": burst,
        "requests_per_s": burst / served,
        "burst_p50_blocks": float(np.percentile(burst_latency, 50)),
        "burst_p95_blocks": float(np.percentile(burst_latency, 95)),
        "steady": steady,
        "latency_p50_blocks": float(np.percentile(steady_latency, 50)),
        "latency_p95_blocks": float(np.percentile(steady_latency, 95)),
    }


def fraud_mlp(folder: Path) -> tuple[Path, np.ndarray] | None:
    if not SHARED.is_dir():
        print(f"fraud model skipped: {SHARED} is not beside the repo")
        return None
    from proofmind.intel.etherscan import connect, import_etherscan
    from proofmind.intel.fraud import address_features, labelled, read_labels
    from proofmind.intel.fraud_onnx import export_mlp, train_mlp

    import_etherscan(
        [SHARED / "transactions.csv.gz", SHARED / "token_transfers.csv.gz"], folder / "data"
    )
    labels = read_labels(SHARED / "labels.csv")
    x, y = labelled(address_features(connect(folder / "data"), list(labels)), labels)
    model = train_mlp(x, y)
    return export_mlp(model, folder / "fraud-mlp.onnx"), model.prepare(x)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--no-fraud", action="store_true")
    args = parser.parse_args()
    machine = platform.processor() or platform.machine()
    print(f"{time.strftime('%Y-%m-%d')} · {machine} · Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        blobs = BlobStore(folder / "blobs")
        devnet = Devnet(folder / "chain", DevnetSettings(block_time=1.0))
        devnet.up()
        chain = open_chain(DevnetBackend(devnet), tx=TxSettings(poll_interval=0.05))
        try:
            contract, _ = deploy(chain, "InferenceOracle")
            oracle = OracleClient(chain, contract)
            rng = np.random.default_rng(3)
            models: list[tuple[str, Path, np.ndarray]] = [
                (
                    "reference MLP 16-32-1",
                    reference_mlp(folder / "mlp.onnx"),
                    rng.normal(0, 1, (64, 16)),
                )
            ]
            if not args.no_fraud and (fraud := fraud_mlp(folder)) is not None:
                models.append(("fraud MLP 43-16-1", fraud[0], fraud[1]))
            rows = {}
            reference = None
            for label, path, samples in models:
                print(f"{label}: packaging, proving, serving …", flush=True)
                pkg, seconds, pre = package(
                    path, samples[:: max(1, len(samples) // 64)], blobs, path.stem
                )
                inputs = [zk.quantize(s, pkg.input_scale) for s in samples[:8]]
                result = zk_model(
                    chain, oracle, pkg, inputs, folder, folder / f"{path.stem}-node.sqlite"
                )
                result.update(
                    package_s=seconds,
                    estimate_prove_s=pre.prove_seconds,
                    estimate_mb=pre.prove_memory_mb,
                    quantization_max=pre.quantization["max_abs"],
                )
                rows[label] = result
                if reference is None:
                    reference = (pkg, inputs)
            assert reference is not None
            print("optimistic mode …", flush=True)
            opt = optimistic(
                chain, oracle, reference[0], reference[1], args.burst, folder / "opt-node.sqlite"
            )
        finally:
            chain.close()
            devnet.down()
    report(rows, opt)


def verdict(value: float, limit: float) -> str:
    shown = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    return f"{shown} → {'met' if value <= limit else 'NOT met'}"


def report(rows: dict[str, dict[str, Any]], opt: dict[str, Any]) -> None:
    print("\nzk mode")
    print(
        "| model | logrows | package s | prove s (estimate) | bare ezkl.prove s | ratio "
        "| proof bytes | verify gas (tx / execution) | commit + fulfil gas | latency blocks |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for label, r in rows.items():
        ratio = r["prove_s"] / r["bare_ezkl_prove_s"]
        print(
            f"| {label} | {r['logrows']} | {r['package_s']:.1f} "
            f"| {r['prove_s']:.2f} ({r['estimate_prove_s']:.1f}) | {r['bare_ezkl_prove_s']:.2f} "
            f"| {ratio:.2f} | {r['proof_bytes']:,} "
            f"| {r['verify_gas']:,} / {r['verify_exec_gas']:,} "
            f"| {r['commit_gas']:,} + {r['fulfil_gas']:,} | {r['latency_blocks']} |"
        )
    print("\noptimistic mode (reference MLP), gas per request")
    for key in ("propose_x1", "propose_x50", "finalize_x1", "finalize_x50"):
        print(f"  {key}: {opt[key]:,.0f}")
    print(
        f"  burst of {opt['burst']} at once: {opt['requests_per_s']:.1f} requests/s served; "
        f"request → proposal p50 {opt['burst_p50_blocks']:.0f} blocks, "
        f"p95 {opt['burst_p95_blocks']:.0f} blocks"
    )
    print(
        f"  steady stream of {opt['steady']} (2 a second): request → proposal "
        f"p50 {opt['latency_p50_blocks']:.0f} blocks, p95 {opt['latency_p95_blocks']:.0f} blocks"
    )
    worst = max(r["verify_gas"] for r in rows.values())
    print("\ntargets")
    print(f"  verify ≤ 600k gas (a whole verifyProof transaction): {verdict(worst, 600_000)}")
    print(f"  optimistic ≤ 120k gas/request: {verdict(opt['propose_x1'], 120_000)}")
    print(f"  batched ≤ 60k gas/request: {verdict(opt['propose_x50'], 60_000)}")
    print(f"  p50 latency ≤ 2 blocks (steady): {verdict(opt['latency_p50_blocks'], 2)}")
    print(f"  p50 latency ≤ 2 blocks (burst): {verdict(opt['burst_p50_blocks'], 2)}")


if __name__ == "__main__":
    main()
