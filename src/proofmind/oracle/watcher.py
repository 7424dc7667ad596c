"""`proofmind oracle challenge`: watch optimistic proposals, recompute each answer with the
circuit's fixed-point forward pass, and dispute a wrong one with a ZK proof of the right one."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount

from proofmind.chain.base import Chain
from proofmind.chain.events import LogReader, Reorg, ReorgSafeCursor
from proofmind.errors import ContractReverted, InputError, ProofmindError
from proofmind.ml import zk
from proofmind.oracle.client import Mode, OracleClient, Status, oracle_model_id
from proofmind.store.state import StateDB

log = logging.getLogger("proofmind.oracle.watcher")


@dataclass(frozen=True)
class Verdict:
    request_id: int
    proposed_ok: bool
    challenged: bool
    detail: str


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
    ) -> None:
        self.chain = chain
        self.oracle = oracle
        self.account = account or chain.default_account
        self.served = {
            oracle_model_id(pkg, Mode.OPTIMISTIC): pkg
            for pkg in packages
            if oracle.model_exists(oracle_model_id(pkg, Mode.OPTIMISTIC))
        }
        if not self.served:
            raise InputError(
                "none of the given models is served in optimistic mode on " + oracle.address,
                hint="register one with `proofmind oracle register NAME --mode optimistic`",
            )
        self.cursor = ReorgSafeCursor(
            chain.w3,
            StateDB(db_path),
            "oracle-watcher",
            chain_id=chain.chain_id,
            start_block=start_block,
        )
        self.reader = LogReader(chain.w3)
        self.verdicts: list[Verdict] = []

    def _input(self, request_id: int, block: int) -> list[int]:
        event = self.oracle.oracle.events.InferenceRequested()
        logs = self.reader.get_logs(
            0, block, address=self.oracle.address, topics=[event.topic, f"0x{request_id:064x}"]
        )
        return [int(v) for v in event.process_log(logs[-1])["args"]["input"]]

    def step(self) -> list[Verdict]:
        found: list[Verdict] = []
        proposed = self.oracle.oracle.events.InferenceProposed()
        while (blocks := self.cursor.poll()) is not None:
            if isinstance(blocks, Reorg):
                continue  # proposals of the new branch arrive in the next ranges
            logs = self.reader.get_logs(
                blocks.start, blocks.end, address=self.oracle.address, topics=[proposed.topic]
            )
            for entry in logs:
                args = proposed.process_log(entry)["args"]
                found.append(
                    self._check(
                        int(args["requestId"]),
                        [int(v) for v in args["output"]],
                        int(entry["blockNumber"]),
                    )
                )
            self.cursor.commit(blocks)
        self.verdicts += found
        return found

    def _check(self, request_id: int, output: list[int], block: int) -> Verdict:
        state = self.oracle.state(request_id)
        pkg = self.served.get(state.model_id)
        if pkg is None:
            return Verdict(request_id, True, False, "not a watched model")
        values = self._input(request_id, block)
        try:
            right = zk.circuit_output(pkg, values)
        except ProofmindError as exc:
            return Verdict(request_id, True, False, f"cannot recompute: {exc}")
        if right == output:
            return Verdict(request_id, True, False, "proposal matches the circuit")
        log.warning(
            "request %d: proposed %s, the circuit says %s — proving", request_id, output, right
        )
        if (
            state.status != Status.PROPOSED
            or int(self.chain.w3.eth.block_number) >= state.challenge_ends
        ):
            return Verdict(request_id, False, False, "wrong, but the challenge window has closed")
        proof = zk.prove(pkg, values)
        try:
            self.oracle.challenge(request_id, proof, account=self.account)
        except ContractReverted as exc:
            return Verdict(request_id, False, False, f"challenge refused: {exc}")
        return Verdict(
            request_id, False, True, f"challenged: proposed {output}, proved {proof.output}"
        )

    def run(self, poll_interval: float = 0.5, stop: float | None = None) -> None:
        while stop is None or time.time() < stop:
            for verdict in self.step():
                log.info("request %d: %s", verdict.request_id, verdict.detail)
            time.sleep(poll_interval)
