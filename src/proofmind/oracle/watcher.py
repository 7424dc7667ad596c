"""`proofmind oracle challenge`: watch optimistic proposals, recompute each answer with the
circuit's fixed-point forward pass, and dispute a wrong one — with a ZK proof of the right one
when the model has a verifier, or with a bond its committee settles otherwise. An account on a
model's committee also votes, with its own re-execution, in every dispute of that model."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes

from proofmind.chain.base import Chain
from proofmind.chain.events import LogReader, Reorg, ReorgSafeCursor
from proofmind.chain.retry import Outage
from proofmind.errors import ContractReverted, InputError, ProofmindError
from proofmind.ml import zk
from proofmind.oracle.binding import open_bound_state
from proofmind.oracle.client import (
    Mode,
    ModelPolicy,
    OracleClient,
    RequestState,
    Status,
    io_hash,
    model_problem,
    oracle_model_id,
    verifier_runtime,
)
from proofmind.store.lock import ServiceLock

log = logging.getLogger("proofmind.oracle.watcher")
_DISPUTES = "oracle-watcher.disputes"


@dataclass(frozen=True)
class Verdict:
    request_id: int
    proposed_ok: bool | None  # None: not judged (a stalled dispute closed)
    challenged: bool
    detail: str
    voted: bool = False


class Watcher:
    def __init__(
        self,
        chain: Chain,
        oracle: OracleClient,
        db_path: Path,
        packages: Iterable[zk.Package],
        *,
        account: LocalAccount | None = None,
        start_block: int | str = 0,
        policy: ModelPolicy | None = None,
    ) -> None:
        """Watch the optimistic models of ``packages`` registered by ``policy.owner`` (default:
        the chain's default account) whose on-chain terms match the package and the policy."""
        self.chain = chain
        self.oracle = oracle
        self.account = account or chain.default_account
        policy = policy or ModelPolicy(chain.default_account.address)
        self.served: dict[bytes, zk.Package] = {}
        for pkg in packages:
            problem = model_problem(
                oracle, pkg, Mode.OPTIMISTIC, policy, verifier_runtime(chain, pkg)
            )
            if problem is None:
                self.served[oracle_model_id(pkg, Mode.OPTIMISTIC, policy.owner)] = pkg
            elif problem != "not registered":
                log.error("refusing to watch %s: %s", pkg.name, problem)
        if not self.served:
            raise InputError(
                f"none of the given models is served in optimistic mode by {policy.owner} (as "
                f"packaged) on {oracle.address}",
                hint="register one with `proofmind oracle register NAME --mode optimistic`",
            )
        models = {model_id: self.oracle.model(model_id) for model_id in self.served}
        self.by_proof = {m: int(cfg["verifier"], 16) != 0 for m, cfg in models.items()}
        self.bond = {m: int(cfg["bond"]) for m, cfg in models.items()}
        self.timeout = {m: int(cfg["timeout"]) for m, cfg in models.items()}
        self.member = {m: oracle.is_committee_member(m, self.account.address) for m in self.served}
        self.lock = ServiceLock(  # held while `run` watches
            db_path.with_suffix(".lock"),
            f"watching with the challenge watcher's state {db_path}",
            hint="stop that watcher first: two on one state would both work on the same "
            "requests (a second watcher runs in its own workspace)",
        )
        self.lock.check()  # a watcher on this state already: say so before it is touched
        self.state = open_bound_state(
            db_path,
            chain.chain_id,
            oracle.address,
            role="challenge watcher",
            open_work=lambda state: len(json.loads(state.get_value(_DISPUTES) or "{}")),
            work="committee disputes",
            hint="watch the old oracle until its disputes are settled or abandoned, or move "
            "{name} aside to give them up",
        )
        self.cursor = ReorgSafeCursor(
            chain.w3,
            self.state,
            "oracle-watcher",
            chain_id=chain.chain_id,
            start_block=start_block,
        )
        self.reader = LogReader(chain.w3)
        self.verdicts: list[Verdict] = []
        # committee disputes seen → their last voting block (kept across restarts)
        saved = json.loads(self.state.get_value(_DISPUTES) or "{}")
        self.disputes: dict[int, int] = {int(k): int(v) for k, v in saved.items()}
        self.stopping = threading.Event()

    def _input(self, request_id: int, state: RequestState, block: int) -> list[int]:
        """The request's input, from its ``InferenceRequested`` event. That event is in the
        block ``deadline - timeout`` (a model's timeout is fixed at registration): the logs
        are read from there, not from block 0, which on a long chain takes thousands of
        windowed ``eth_getLogs`` calls, enough to miss the challenge window."""
        event = self.oracle.oracle.events.InferenceRequested()
        first = max(0, state.deadline - self.timeout[state.model_id])
        logs = self.reader.get_logs(
            first, block, address=self.oracle.address, topics=[event.topic, f"0x{request_id:064x}"]
        )
        return [int(v) for v in event.process_log(logs[-1])["args"]["input"]]

    def step(self) -> list[Verdict]:
        found: list[Verdict] = []
        proposed = self.oracle.oracle.events.InferenceProposed()
        challenged = self.oracle.oracle.events.ProposalChallenged()
        while (blocks := self.cursor.poll()) is not None:
            if isinstance(blocks, Reorg):
                continue  # events of the new branch arrive in the next ranges
            logs = self.reader.get_logs(
                blocks.start,
                blocks.end,
                address=self.oracle.address,
                topics=[[proposed.topic, challenged.topic]],
            )
            for entry in logs:
                block = int(entry["blockNumber"])
                if HexBytes(entry["topics"][0]) == HexBytes(proposed.topic):
                    args = proposed.process_log(entry)["args"]
                    output = [int(v) for v in args["output"]]
                    found.append(self._check(int(args["requestId"]), output, block))
                else:
                    args = challenged.process_log(entry)["args"]
                    if args["byProof"]:
                        continue  # settled in its own transaction
                    if verdict := self._on_committee_dispute(args["requestId"], block):
                        found.append(verdict)
            self.cursor.commit(blocks)
        found += self._close_stalled()
        self.verdicts += found
        return found

    def _check(self, request_id: int, output: list[int], block: int) -> Verdict:
        state = self.oracle.state(request_id)
        pkg = self.served.get(state.model_id)
        if pkg is None:
            return Verdict(request_id, True, False, "not a watched model")
        values = self._input(request_id, state, block)
        try:
            right = zk.circuit_output(pkg, values)
        except ProofmindError as exc:
            return Verdict(request_id, True, False, f"cannot recompute: {exc}")
        if right == output:
            return Verdict(request_id, True, False, "proposal matches the circuit")
        log.warning("request %d: proposed %s, the circuit says %s", request_id, output, right)
        if state.status != Status.PROPOSED:
            detail = f"wrong, but no longer open to challenge ({state.status.name.lower()})"
            return Verdict(request_id, False, False, detail)
        # a proof challenge is committed before the window's last block and revealed after
        last = state.challenge_ends - 1 if self.by_proof[state.model_id] else state.challenge_ends
        if int(self.chain.w3.eth.block_number) >= last:
            return Verdict(request_id, False, False, "wrong, but the challenge window has closed")
        if not self.by_proof[state.model_id]:
            return self._dispute(request_id, state.model_id, output, right)
        proof = zk.prove(pkg, values)
        try:  # commit, then reveal once the commitment is mined: a copier has no commitment
            self.oracle.challenge(request_id, proof, account=self.account)
        except ContractReverted as exc:
            return Verdict(request_id, False, False, f"challenge refused: {exc}")
        return Verdict(
            request_id, False, True, f"challenged: proposed {output}, proved {proof.output}"
        )

    def _dispute(
        self, request_id: int, model_id: bytes, output: list[int], right: list[int]
    ) -> Verdict:
        """Lock a bond against a wrong proposal of a committee model (depositing what the
        account's oracle balance lacks); the committee's votes settle it."""
        short = self.bond[model_id] - self.oracle.balance(self.account.address)
        try:
            if short > 0:
                self.oracle.deposit(short, account=self.account)
            self.oracle.dispute(request_id, account=self.account)
        except ProofmindError as exc:  # refused by the contract, or the deposit failed
            return Verdict(request_id, False, False, f"dispute refused: {exc}")
        return Verdict(
            request_id,
            False,
            True,
            f"disputed: proposed {output}, the circuit says {right}; the committee votes",
        )

    def _on_committee_dispute(self, request_id: int, block: int) -> Verdict | None:
        """Remember a committee dispute of a watched model (to close it should it stall) and
        vote in it when this account is a member."""
        state = self.oracle.state(request_id)
        pkg = self.served.get(state.model_id)
        if pkg is None or state.status != Status.DISPUTED:
            return None
        self.disputes[request_id] = self.oracle.voting_ends(request_id)
        self._save_disputes()
        if not self.member[state.model_id]:
            return None
        try:
            right = zk.circuit_output(pkg, self._input(request_id, state, block))
            self.oracle.vote(request_id, right, account=self.account)
        except ProofmindError as exc:  # the circuit refused the input, or the vote reverted
            return Verdict(request_id, True, False, f"could not vote: {exc}")
        upheld = io_hash(right) == state.output_hash
        return Verdict(
            request_id,
            upheld,
            False,
            f"voted {right}: {'upholds' if upheld else 'overturns'} the proposal",
            voted=True,
        )

    def _save_disputes(self) -> None:
        self.state.set_value(_DISPUTES, json.dumps(self.disputes))

    def _close_stalled(self) -> list[Verdict]:
        """Abandon the committee disputes of watched models that reached no quorum in time:
        both bonds go back and the requester is refunded (anyone may; nothing stays locked)."""
        if not self.disputes:
            return []  # no block-number read on every poll
        head = int(self.chain.w3.eth.block_number)
        closed = []
        ended = [(r, ends) for r, ends in self.disputes.items() if head > ends]
        for request_id, ends in ended:
            if self.oracle.state(request_id).status == Status.DISPUTED:  # else settled by votes
                try:
                    self.oracle.abandon_dispute(request_id, account=self.account)
                except ProofmindError as exc:  # another watcher closed it first
                    log.info("request %d: dispute not abandoned: %s", request_id, exc)
                else:
                    detail = f"dispute abandoned: no quorum by block {ends}"
                    closed.append(Verdict(request_id, None, False, detail + "; bonds returned"))
            del self.disputes[request_id]
        if ended:
            self._save_disputes()
        return closed

    def run(self, poll_interval: float = 0.5, stop: float | None = None) -> None:
        """Step every ``poll_interval`` seconds until :meth:`stop` is called (or the
        ``stop`` time, a ``time.time()`` value, has passed)."""
        outage = Outage(log, base=max(1.0, poll_interval))
        with self.lock.held():
            while not self.stopping.is_set() and (stop is None or time.time() < stop):
                try:
                    verdicts = self.step()
                    outage.ok()
                except Outage.ERRORS as exc:  # the node is away: wait, then read on from the cursor
                    self.stopping.wait(outage.retry_after(exc))
                    continue
                for verdict in verdicts:
                    log.info("request %d: %s", verdict.request_id, verdict.detail)
                self.stopping.wait(poll_interval)

    def stop(self) -> None:
        """End :meth:`run` after its current step (from any thread)."""
        self.stopping.set()
