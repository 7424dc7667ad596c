"""The oracle node's loop: follow requests, answer (circuit output or proof), cross-check with
onnxruntime, submit, finalize, and read the chain back after a crash."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import signal
import sqlite3
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from eth_account.signers.local import LocalAccount
from web3.logs import DISCARD

from proofmind.chain.base import Chain
from proofmind.chain.events import BlockRange, LogReader, Reorg, ReorgSafeCursor
from proofmind.chain.reconcile import Fate, tx_outcome
from proofmind.chain.retry import Outage
from proofmind.errors import ContractReverted, InputError, ProofmindError
from proofmind.ml import zk
from proofmind.ml.onnx_models import OnnxModel
from proofmind.oracle.binding import open_bound_state
from proofmind.oracle.client import (
    DEFAULT_MAX_BOND,
    Mode,
    ModelPolicy,
    OracleClient,
    Status,
    commitment,
    model_problem,
    oracle_model_id,
    verifier_runtime,
)
from proofmind.oracle.node._http import Metrics, serve_http
from proofmind.oracle.node._queue import RequestQueue
from proofmind.store.lock import ServiceLock

log = logging.getLogger("proofmind.oracle")
MAX_PROVER_ATTEMPTS = 3
# the contract's refusals of an answer itself: sent again, it would be refused again
ANSWER_REFUSED = frozenset(
    {"WrongMode", "OutputShape", "ValueOutOfRange", "InputMismatch", "InvalidProof"}
)


@dataclass(frozen=True)
class NodeConfig:
    confirmations: int = 0
    batch_size: int = 50
    answer_chunk: int = 20
    poll_interval: float = 0.25
    provers: int = 1
    # a Ray cluster to prove on (ray://HOST:PORT, auto, or local) instead of local processes
    prover_address: str | None = None
    finalize: bool = True
    start_block: int | str = 0
    cursor_name: str = "oracle-node"
    # warn when the circuit's answer is further than this (relative to max(1, |output|)) from
    # onnxruntime's float output: the input probably lies outside the calibrated ranges
    drift_warning: float = 0.01
    # the model owner whose registrations are served (default: the chain's default account),
    # the most wei one answer may lock, and the accounts a committee may hold (None: any)
    model_owner: str | None = None
    max_bond: int = DEFAULT_MAX_BOND
    trusted_committee: frozenset[str] | None = None


@dataclass(frozen=True)
class Served:
    package: zk.Package
    mode: Mode
    input_length: int
    float_model: OnnxModel  # the packaged ONNX model in onnxruntime, to cross-check answers


def _prove(pkg: zk.Package, values: list[int]) -> zk.Proof:
    """Runs in a prover process."""
    return zk.prove(pkg, values)


def node_lock(db_path: Path) -> ServiceLock:
    """The lock a node holds while it serves the queue ``db_path``."""
    return ServiceLock(
        db_path.with_suffix(".lock"),
        f"serving the oracle node's queue {db_path}",
        hint="stop that node first: two nodes on one queue would prove and send the same "
        "answers (a second operator runs a node in their own workspace)",
    )


class OracleNode:
    def __init__(
        self,
        chain: Chain,
        oracle: OracleClient,
        db_path: Path,
        packages: Iterable[zk.Package],
        *,
        account: LocalAccount | None = None,
        config: NodeConfig | None = None,
    ) -> None:
        self.chain = chain
        self.oracle = oracle
        self.config = config or NodeConfig()
        self.account = account or chain.default_account
        self.sender = chain.sender(self.account)
        policy = ModelPolicy(
            self.config.model_owner or chain.default_account.address,
            self.config.max_bond,
            self.config.trusted_committee,
        )
        self.served: dict[str, Served] = {}
        for pkg in packages:
            float_model = OnnxModel.load(pkg.paths["model"])
            runtime = verifier_runtime(chain, pkg)
            for mode in Mode:
                problem = model_problem(oracle, pkg, mode, policy, runtime)
                if problem == "not registered":
                    continue
                if problem is not None:
                    name = f"{pkg.name} in {mode.name.lower()} mode"
                    log.error("refusing to serve %s: %s", name, problem)
                    continue
                model_id = oracle_model_id(pkg, mode, policy.owner)
                self.served["0x" + model_id.hex()] = Served(pkg, mode, pkg.input_size, float_model)
        if not self.served:
            raise InputError(
                f"none of the given models is registered by {policy.owner} (as packaged) on the "
                f"oracle at {oracle.address}",
                hint="register them with `proofmind oracle register NAME --mode zk|optimistic`",
            )
        self.lock = node_lock(db_path)  # held while `run` serves this queue
        self.lock.check()  # a node serving this queue already: say so before it is touched
        self.state = open_bound_state(
            db_path,
            chain.chain_id,
            oracle.address,
            role="oracle node",
            open_work=lambda state: RequestQueue(state).open_count(),
            work="requests",
            hint="serve the old oracle until its requests are done, or move {name} aside to "
            "give them up (a requester takes an unanswered request's fee back with "
            "`proofmind oracle refund ID`)",
        )
        self.queue = RequestQueue(self.state)
        self.queue.name_models({mid: s.package.name for mid, s in self.served.items()})
        self.cursor = ReorgSafeCursor(
            chain.w3,
            self.state,
            self.config.cursor_name,
            chain_id=chain.chain_id,
            confirmations=self.config.confirmations,
            start_block=self.config.start_block,
        )
        self.reader = LogReader(chain.w3)
        self.metrics = Metrics()
        self.stopping = asyncio.Event()
        self.last_step = time.time()
        self._pool: Executor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting = 0  # optimistic answers waiting for their bonds
        self._bonds: dict[str, int] = {}  # model id → its bond (see _bond)
        event = oracle.oracle.events.InferenceRequested()
        self._topic = event.topic
        self._event = event

    # -- the loop ----------------------------------------------------------------------------

    async def run(self, *, until_idle: bool = False, handle_signals: bool = True) -> None:
        """Serve until stopped (SIGTERM / SIGINT finish the current step, then return; a host
        process that handles signals itself passes ``handle_signals=False`` and calls
        :meth:`stop`)."""
        with self.lock.held():
            await self._run(until_idle, handle_signals)

    async def _run(self, until_idle: bool, handle_signals: bool) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        for sig in (signal.SIGTERM, signal.SIGINT) if handle_signals else ():
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stopping.set)
        outage = Outage(log, base=max(1.0, self.config.poll_interval))
        try:
            await asyncio.to_thread(self.reconcile)
            while not self.stopping.is_set():
                try:
                    busy = await self.step()
                    outage.ok()
                except Outage.ERRORS as exc:  # the node is away: wait, then go on from the queue
                    wait = outage.retry_after(exc)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stopping.wait(), wait)
                    continue
                self.last_step = time.time()
                if until_idle and not busy and not self.queue.open_count():
                    return
                if not busy:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stopping.wait(), self.config.poll_interval)
        finally:
            self.close()
            log.info("oracle node stopped")

    def stop(self) -> None:
        """Ask a running node to stop after its current step (from any thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.stopping.set)
        else:
            self.stopping.set()  # not running yet: `run` returns once it has reconciled

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def _provers(self) -> Executor:
        if self._pool is None and self.config.prover_address is not None:
            from proofmind.oracle.ray_provers import RayProvers

            self._pool = RayProvers(self.config.prover_address)  # a local Ray: every core
        # forkserver, not fork: this process runs threads (asyncio.to_thread, HTTP server)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.config.provers,
                mp_context=multiprocessing.get_context("forkserver"),
            )
        return self._pool

    async def step(self) -> bool:
        """One round: read new requests, answer, submit, finalize. True when it did anything."""
        seen = await asyncio.to_thread(self.follow)
        confirmed = await asyncio.to_thread(self.confirm)
        answered = sent = 0
        while True:
            # answer and send in small chunks, so the first answers of a burst go out in the
            # next block instead of waiting for the whole burst
            done = await self.answer(limit=self.config.answer_chunk)
            answered += done
            sent += await asyncio.to_thread(self.submit)
            if not done or self.stopping.is_set():
                break
            seen += await asyncio.to_thread(self.follow)
        finalized = await asyncio.to_thread(self.finalize) if self.config.finalize else 0
        self._update_gauges()
        return bool(seen or answered or confirmed or sent or finalized)

    # -- following ---------------------------------------------------------------------------

    def follow(self) -> int:
        total = 0
        while (step := self.cursor.poll()) is not None:
            if isinstance(step, Reorg):
                self._undo(step)
                continue
            total += self._ingest(step)
            self.cursor.commit(step)
            self.metrics.block.set(step.end + 1)
        return total

    def _ingest(self, blocks: BlockRange) -> int:
        logs = self.reader.get_logs(
            blocks.start, blocks.end, address=self.oracle.address, topics=[self._topic]
        )
        rows = []
        for entry in logs:
            args = self._event.process_log(entry)["args"]
            model_id = "0x" + bytes(args["modelId"]).hex()
            if model_id not in self.served:
                continue
            rows.append(
                (
                    int(args["requestId"]),
                    model_id,
                    int(self.served[model_id].mode),
                    json.dumps([int(v) for v in args["input"]]),
                    int(entry["blockNumber"]),
                    int(args["deadline"]),
                    time.time(),
                )
            )
        for row in rows:
            self._log_state(int(row[0]), str(row[1]), "seen", int(row[4]), None)
        self.queue.add(rows)
        self.metrics.seen.inc(len(rows))
        return len(rows)

    def _undo(self, reorg: Reorg) -> None:
        log.warning(
            "reorg at block %d (depth %d): forgetting unsent requests",
            reorg.fork_block,
            reorg.depth,
        )
        proposed = self.queue.forget_unsent(reorg.fork_block)
        self._reconcile_rows(proposed)  # the proposal may have left with the old branch

    # -- answering ---------------------------------------------------------------------------

    async def answer(self, limit: int = 100) -> int:
        rows = self.queue.rows("new", limit=limit)
        if not rows:
            return 0
        head = await asyncio.to_thread(lambda: int(self.chain.w3.eth.block_number))
        late = [r for r in rows if r["deadline"] <= head]  # cannot be answered in time any more
        for row in late:
            log.warning("request %d expired (deadline block %d) before it was answered",
                        row["request_id"], row["deadline"])  # fmt: skip
            self.queue.set_state(row["request_id"], "expired")
        rows = [r for r in rows if r["deadline"] > head]
        jobs = []
        for row in rows:
            served = self.served[row["model_id"]]
            values = json.loads(row["input"])
            if served.mode == Mode.OPTIMISTIC:
                jobs.append(self._answer_optimistic(row["request_id"], served, values))
            else:
                jobs.append(self._answer_zk(row["request_id"], served, values))
        await asyncio.gather(*jobs)
        return len(rows)

    async def _answer_optimistic(self, request_id: int, served: Served, values: list[int]) -> None:
        try:
            output = await asyncio.to_thread(zk.circuit_output, served.package, values)
        except ProofmindError as exc:
            self._fail(request_id, exc)
            return
        self._cross_check(request_id, served, values, output)
        self.queue.set_state(request_id, "answered", output=json.dumps(output))
        self._log_state(request_id, self.queue.model_of(request_id), "answered", None, None)

    def _cross_check(
        self, request_id: int, served: Served, values: list[int], output: list[int]
    ) -> None:
        """The answer is the circuit's fixed-point output; onnxruntime's float output of the
        same input shows how far quantization moved it (a metric, and a warning when far)."""
        pkg = served.package
        try:
            expected = served.float_model.run(zk.dequantize(values, pkg.input_scale))
        except ProofmindError as exc:  # the answer stands: it is the circuit's
            log.warning("request %d: onnxruntime could not cross-check it: %s", request_id, exc)
            return
        gap = float(np.max(np.abs(np.asarray(zk.dequantize(output, pkg.output_scale)) - expected)))
        self.metrics.drift.observe(gap)
        if gap > self.config.drift_warning * max(1.0, float(np.max(np.abs(expected)))):
            log.warning(
                "request %d: the circuit's answer is %.3g from onnxruntime's float output %s; "
                "the input may lie outside the ranges %s was calibrated on",
                request_id, gap, expected.tolist(), pkg.name,
            )  # fmt: skip

    async def _answer_zk(self, request_id: int, served: Served, values: list[int]) -> None:
        started = time.perf_counter()
        try:
            zk.check_input(served.package, values)
            proof = await asyncio.get_running_loop().run_in_executor(
                self._provers(), _prove, served.package, values
            )
        except ProofmindError as exc:
            self._fail(request_id, exc)
            return
        except BrokenProcessPool as exc:  # the prover died (out of memory, killed)
            self._prover_died(request_id, exc)
            return
        self.metrics.proving.observe(time.perf_counter() - started)
        self._cross_check(request_id, served, values, proof.output)
        doc = {"output": proof.output, "proof": proof.proof.hex()}
        self.queue.set_state(request_id, "answered", output=json.dumps(doc))
        self._log_state(request_id, self.queue.model_of(request_id), "proved", None, None)

    def _prover_died(self, request_id: int, exc: Exception) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None  # a fresh pool on the next proof
        row = self.queue.rows_by_id([request_id])[0]
        attempts = int(row["attempts"]) + 1
        if attempts >= MAX_PROVER_ATTEMPTS:
            self._fail(request_id, ProofmindError(f"the prover died {attempts} times: {exc}"))
            return
        log.error("the prover died on request %d (%s); retrying", request_id, exc)
        self.queue.set_state(request_id, "new", attempts=attempts)

    def _fail(self, request_id: int, exc: Exception) -> None:
        log.error("request %d cannot be answered: %s", request_id, exc)
        self.metrics.failed.inc()
        self.queue.set_state(request_id, "failed", error=str(exc))

    # -- submitting --------------------------------------------------------------------------

    def submit(self) -> int:
        """Send proposals (batched) for answered optimistic requests still open on chain, and
        commitments to the proofs of zk ones; then reveal (fulfil) the proofs whose commitment
        is mined. Receipts are read by :meth:`confirm` (sending never waits for a block)."""
        rows = self.queue.rows("answered", limit=self.config.batch_size * 4)
        open_rows = self._still_open(rows, Status.PENDING)
        sent = 0
        optimistic = self._bonded([r for r in open_rows if r["mode"] == Mode.OPTIMISTIC])
        for batch in _chunks(optimistic, self.config.batch_size):
            sent += self._propose(batch)
        # a zk proof names no prover: commit to it first, or a copier takes the fee
        proved = [r for r in open_rows if r["mode"] == Mode.ZK]
        for row in proved:
            rid = row["request_id"]
            proof = bytes.fromhex(json.loads(row["output"])["proof"])
            fn = self.oracle.oracle.functions.commit(
                rid, commitment(rid, self.account.address, proof)
            )
            self._send([rid], fn, "committing", f"commit to the proof of {rid}")
        if proved:
            self.confirm()  # commitments mined already (a devnet) are revealed in this step
        return sent + self._reveal()

    def _reveal(self) -> int:
        """Fulfil the zk requests whose commitment is mined (in an earlier block than any
        transaction sent from now on)."""
        sent = 0
        for row in self._still_open(self.queue.rows("committed"), Status.PENDING):
            doc = json.loads(row["output"])
            fn = self.oracle.oracle.functions.fulfill(
                row["request_id"],
                json.loads(row["input"]),
                doc["output"],
                bytes.fromhex(doc["proof"]),
            )
            label = f"fulfil {row['request_id']}"
            refused = self._send([row["request_id"]], fn, "sending", label, reveal=True)
            if refused is None:
                sent += 1
            else:
                self._give_up([row["request_id"]], refused)
        return sent

    def _propose(self, batch: Sequence[sqlite3.Row]) -> int:
        """Propose a batch of answers; when the contract refuses one answer of it, the others
        are proposed one by one, so that it cannot hold them back."""
        ids = [r["request_id"] for r in batch]
        outputs = [json.loads(r["output"]) for r in batch]
        fn = self.oracle.oracle.functions.propose(ids, outputs)
        refused = self._send(ids, fn, "sending", f"propose {len(ids)} answer(s)")
        if refused is None:
            return len(ids)
        if len(ids) > 1 and refused.error_name in ANSWER_REFUSED:
            again = [r for r in self.queue.rows_by_id(ids) if r["state"] == "answered"]
            return sum(self._propose([row]) for row in again)
        self._give_up(ids, refused)
        return 0

    def _give_up(self, ids: Sequence[int], refused: ContractReverted) -> None:
        """Fail a request whose answer the contract refuses for what it is (its proof, shape,
        range or mode), if the chain still has it open: sent again, it would be refused again,
        at every poll (a zk answer with a new commitment each time)."""
        if len(ids) != 1 or refused.error_name not in ANSWER_REFUSED:
            return
        (row,) = self.queue.rows_by_id(ids)
        if row["state"] == "answered":
            self._fail(ids[0], refused)

    def _bond(self, model_id: str) -> int:
        """The wei one answer of ``model_id`` locks: fixed at registration, so read once."""
        if model_id not in self._bonds:
            self._bonds[model_id] = int(self.oracle.model(bytes.fromhex(model_id[2:]))["bond"])
        return self._bonds[model_id]

    def _bonded(self, rows: list[sqlite3.Row]) -> list[sqlite3.Row]:
        """The optimistic answers whose bonds this account's oracle balance covers, in queue
        order. The others wait for `proofmind oracle deposit`; the node says so when their number
        changes, not at every poll."""
        if not rows:
            return rows
        balance = left = self.oracle.balance(self.account.address)
        bonds = {model_id: self._bond(model_id) for model_id in {r["model_id"] for r in rows}}
        covered = []
        for row in rows:
            if bonds[row["model_id"]] <= left:
                covered.append(row)
                left -= bonds[row["model_id"]]
        waiting = len(rows) - len(covered)
        if waiting and waiting != self._waiting:
            log.warning(
                "%d optimistic answer(s) wait for their bonds: %s's oracle balance is %d wei, "
                "enough for %d of %d (%d wei a bond); `proofmind oracle deposit` adds to it",
                waiting, self.account.address, balance, len(covered), len(rows),
                max(bonds.values()),
            )  # fmt: skip
        elif self._waiting and not waiting:
            log.info("the oracle balance covers the answers that waited for their bonds")
        self._waiting = waiting
        return covered

    def finalize(self) -> int:
        """Send finalizations of our proposals whose challenge window has closed."""
        head = int(self.chain.w3.eth.block_number)
        rows = self.queue.due(head, limit=self.config.batch_size * 4)
        if not rows:
            return 0
        sent = 0
        for batch in _chunks(self._still_open(rows, Status.PROPOSED), self.config.batch_size):
            ids = [r["request_id"] for r in batch]
            outputs = [json.loads(r["output"]) for r in batch]
            fn = self.oracle.oracle.functions.finalize(ids, outputs)
            if self._send(ids, fn, "finalizing", f"finalize {len(ids)} answer(s)") is None:
                sent += len(ids)
        return sent

    def _send(
        self, ids: Sequence[int], fn: Any, state: str, label: str, *, reveal: bool = False
    ) -> ContractReverted | None:
        """Send a transaction for requests ``ids``; the contract's refusal when it refuses
        (the requests are then re-read from the chain), else None."""
        self.queue.mark(ids, state)  # a crash from here on is settled by reading the chain back
        params = {"to": self.oracle.address, "data": fn._encode_transaction_data()}
        try:
            if reveal:  # runs a block after its commitment: estimate it there
                params["gas"] = self.oracle.reveal_gas(fn, self.sender)
            tx_hash = self.sender.submit(params, label=label)
        except ContractReverted as exc:  # the gas estimate saw it fail: nothing was sent
            log.warning("%s refused (%s); re-reading their state", label, exc)
            self._reconcile_rows(self.queue.rows_by_id(ids))
            return exc
        self.queue.record_tx(ids, tx_hash.to_0x_hex())
        return None

    def confirm(self) -> int:
        """Read the receipts of sent transactions and move their requests on."""
        rows = (
            self.queue.rows("sending")
            + self.queue.rows("finalizing")
            + self.queue.rows("committing")
        )
        by_tx: dict[str | None, list[sqlite3.Row]] = {}
        for row in rows:
            by_tx.setdefault(row["tx_hash"], []).append(row)
        done = 0
        for tx_hash, group in by_tx.items():
            if tx_hash is None:  # died between marking and sending: the chain says what happened
                self._reconcile_rows(group)
                continue
            outcome = tx_outcome(self.chain, tx_hash, confirmations=0, durable=False)
            if outcome.fate is Fate.WAITING:  # sent, not mined: give it the receipt timeout
                stale = time.time() - min(r["updated_at"] for r in group)
                if stale > self.sender.settings.receipt_timeout:
                    log.warning(
                        "transaction %s is gone; re-reading %d request(s)", tx_hash, len(group)
                    )
                    self._reconcile_rows(group)
                continue
            if outcome.fate is not Fate.CONFIRMED or outcome.receipt is None:
                log.warning(
                    "transaction %s %s; re-reading %d request(s)",
                    tx_hash,
                    "reverted" if outcome.fate is Fate.REVERTED else "is gone",
                    len(group),
                )
                self._reconcile_rows(group)
                continue
            if group[0]["state"] == "committing":
                self._committed(group, dict(outcome.receipt))
            else:
                self._apply(group, dict(outcome.receipt))
            done += len(group)
        return done

    def _apply(self, rows: Sequence[sqlite3.Row], receipt: dict[str, Any]) -> None:
        events = self.oracle.oracle.events
        ends = {
            int(e["args"]["requestId"]): int(e["args"]["challengeEnds"])
            for e in events.InferenceProposed().process_receipt(receipt, errors=DISCARD)
        }
        # ids a batch left out because someone else answered or finalized them first
        skipped = {
            int(e["args"]["requestId"])
            for e in events.AnswerSkipped().process_receipt(receipt, errors=DISCARD)
        }
        self._log_callbacks(receipt)
        now = time.time()
        block, gas = int(receipt["blockNumber"]), int(receipt["gasUsed"])
        share = gas // max(1, len(rows) - len(skipped & {r["request_id"] for r in rows}))
        updates, recheck = [], []
        for row in rows:
            rid = row["request_id"]
            if rid in skipped:
                recheck.append(row)
                continue
            if row["state"] == "sending" and rid in ends:
                updates.append(("proposed", ends[rid], now, rid))
                self.metrics.answered.labels("optimistic").inc()
                new = "proposed"
            else:
                updates.append(("done", row["challenge_ends"], now, rid))
                if row["state"] == "finalizing":
                    self.metrics.finalized.inc()
                    new = "finalized"
                else:
                    self.metrics.answered.labels("zk").inc()
                    new = "fulfilled"
            self._log_state(rid, row["model_id"], new, block, share)
        self.queue.settle(updates)
        if recheck:
            log.info(
                "%d request(s) were skipped by the batch in block %d (answered or finalized by "
                "someone else first); re-reading them", len(recheck), block,
            )  # fmt: skip
            self._reconcile_rows(recheck)

    def _committed(self, rows: Sequence[sqlite3.Row], receipt: dict[str, Any]) -> None:
        block, gas = int(receipt["blockNumber"]), int(receipt["gasUsed"])
        self.queue.mark([r["request_id"] for r in rows], "committed")
        for row in rows:
            self._log_state(row["request_id"], row["model_id"], "committed", block, gas)

    def _log_state(
        self, request_id: int, model_id: str, state: str, block: int | None, gas: int | None
    ) -> None:
        """One INFO line per state change of a request: id, model, block, gas."""
        served = self.served.get(model_id)
        model = f"{served.package.name}/{served.mode.name.lower()}" if served else model_id
        log.info(
            "request %d %s: model %s, block %s, gas %s",
            request_id, state, model, "-" if block is None else block, "-" if gas is None else gas,
        )  # fmt: skip

    # -- reading the chain back --------------------------------------------------------------

    def reconcile(self) -> None:
        """At start: settle in-flight requests from their receipts or the chain's state, and
        say so when the node cannot afford the bond of an optimistic answer."""
        self.confirm()
        balance = self.oracle.balance(self.account.address)
        for model_id, served in self.served.items():
            if served.mode != Mode.OPTIMISTIC:
                continue
            bond = self._bond(model_id)
            if balance < bond:
                log.warning(
                    "%s's oracle balance is %d wei, less than one bond of %s (%d wei): its "
                    "optimistic answers will be refused until `proofmind oracle deposit` adds "
                    "to it", self.account.address, balance, served.package.name, bond,
                )  # fmt: skip

    def _reconcile_rows(self, rows: Sequence[sqlite3.Row]) -> None:
        self._still_open(rows, None)

    def _statuses(self, ids: Sequence[int]) -> list[Any]:
        """getRequest of many requests in one JSON-RPC batch."""
        fn = self.oracle.oracle.functions.getRequest
        with self.chain.w3.batch_requests() as batch:
            for request_id in ids:
                batch.add(fn(request_id))
            results: list[Any] = list(batch.execute())
        return [self.oracle.to_state(i, r) for i, r in zip(ids, results, strict=True)]

    def _still_open(self, rows: Sequence[sqlite3.Row], wanted: Status | None) -> list[sqlite3.Row]:
        """Rows whose on-chain status is ``wanted``; the others move to the state it implies."""
        if not rows:
            return []
        head = int(self.chain.w3.eth.block_number)
        keep = []
        me = self.account.address.lower()
        for row, st in zip(rows, self._statuses([r["request_id"] for r in rows]), strict=True):
            mine = st.node.lower() == me
            if st.status == Status.PENDING:
                new = "expired" if st.deadline < head + 1 else "answered"
            elif st.status == Status.PROPOSED:
                new = "proposed" if mine else "lost"
            elif st.status == Status.FULFILLED:
                new = "done" if mine else "lost"
            elif st.status == Status.DISPUTED:
                new = "disputed"
            else:
                new = "expired"
            if wanted is not None and st.status == wanted and new in ("answered", "proposed"):
                keep.append(row)
                continue
            if new != row["state"]:
                if new == "expired":
                    log.warning(
                        "request %d expired unanswered at block %d (its answer came too late)",
                        row["request_id"],
                        st.deadline,
                    )
                self.queue.set_state(
                    row["request_id"], new, challenge_ends=st.challenge_ends or None
                )
                self._log_state(row["request_id"], row["model_id"], new, head, None)
        return keep

    def _log_callbacks(self, receipt: dict[str, Any]) -> None:
        callbacks = self.oracle.oracle.events.CallbackDone()
        for event in callbacks.process_receipt(receipt, errors=DISCARD):
            if not event["args"]["success"]:
                self.metrics.callback_failures.inc()
                log.warning(
                    "consumer callback of request %d failed (reason 0x%s); the request is answered",
                    event["args"]["requestId"],
                    bytes(event["args"]["reason"]).hex()[:128],
                )

    # -- the queue ---------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Requests by state."""
        return self.queue.counts()

    def _update_gauges(self) -> None:
        for state, n in self.counts().items():
            self.metrics.queue.labels(state).set(n)

    # -- health and metrics over HTTP --------------------------------------------------------

    def health(self) -> tuple[dict[str, Any], bool]:
        """What ``/health`` shows, and whether the node is stepping."""
        age = time.time() - self.last_step
        ok = age < max(30.0, 20 * self.config.poll_interval)
        doc = {
            "status": "ok" if ok else "stalled",
            "seconds_since_last_step": round(age, 3),
            "next_block": self.cursor.next_block,
            "queue": self.counts(),
            "oracle": self.oracle.address,
            "models": {mid: s.mode.name.lower() for mid, s in self.served.items()},
        }
        return doc, ok

    async def serve_http(self, host: str, port: int) -> Any:
        """Start ``/metrics`` (Prometheus) and ``/health`` (JSON); returns the runner."""
        return await serve_http(host, port, self.metrics, self.health)


def _chunks(rows: Sequence[sqlite3.Row], size: int) -> Iterable[Sequence[sqlite3.Row]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]
