"""Price feeds on chain: read a Chainlink-compatible feed's rounds block by block, and push a
recorded price history into the devnet's `ReplayPriceFeed` round by round.

A feed is anything that answers AggregatorV3Interface (``latestRoundData``, ``getRoundData``,
``decimals``). The reader turns each new round into a ``PriceObservation`` dated by the round's
own ``updatedAt`` (the time the price was observed, which is what a consumer checks for
staleness), for the price detectors of ``monitor run``. Two ways to see new rounds:

- ``logs`` (default): the ``AnswerUpdated(int256 current, uint256 roundId, uint256 updatedAt)``
  events in the block's receipts, which the monitor has fetched anyway: no extra request. This
  is what an aggregator emits (Chainlink's proxies do not; point ``logs`` at the aggregator).
- ``rounds``: ``latestRoundData()`` called at the block, and ``getRoundData`` for every round
  between the last one seen and the latest (at most ``max_backfill``): works through a proxy.

What was read is remembered per feed (the last round id), in the detectors' state, so a restart
or a reorg neither skips a round nor reads one twice.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import BadFunctionCallOutput, ContractLogicError, Web3Exception

from proofmind.crypto.keccak import keccak256_hex
from proofmind.errors import ChainError, InputError
from proofmind.monitor.api import Alert, BlockEvent, PriceObservation

if TYPE_CHECKING:
    from proofmind.monitor.prices import PriceSeries

log = logging.getLogger("proofmind.monitor")

ANSWER_UPDATED = keccak256_hex(b"AnswerUpdated(int256,uint256,uint256)")
READ_MODES = ("logs", "rounds")
ReadMode = Literal["logs", "rounds"]

_FEED_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": name,
        "stateMutability": "view",
        "inputs": [{"name": "roundId", "type": "uint80"}] if name == "getRoundData" else [],
        "outputs": [
            {"name": "roundId", "type": "uint80"},
            {"name": "answer", "type": "int256"},
            {"name": "startedAt", "type": "uint256"},
            {"name": "updatedAt", "type": "uint256"},
            {"name": "answeredInRound", "type": "uint80"},
        ],
    }
    for name in ("latestRoundData", "getRoundData")
] + [
    {
        "type": "function",
        "name": "decimals",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "", "type": "uint8"}],
    }
]


def parse_feeds(specs: Sequence[str]) -> dict[str, str]:
    """``SUBJECT=0xADDRESS`` strings (the CLI's ``--feed``) as subject → lower-case address."""
    feeds: dict[str, str] = {}
    for spec in specs:
        subject, _, address = spec.partition("=")
        subject, address = subject.strip(), address.strip()
        if not subject or not re.fullmatch(r"0x[0-9a-fA-F]{40}", address):
            raise InputError(
                f"--feed {spec!r} is not SUBJECT=0xADDRESS",
                hint="e.g. --feed USDC=0x8fFfFfd4AfB6115b954Bd326cbe7B4BA576818f6",
            )
        if subject in feeds:
            raise InputError(f"--feed names {subject} twice")
        feeds[subject] = address.lower()
    return feeds


DEFAULT_DECIMALS = 8  # Chainlink's USD feeds' (its ETH-quoted feeds have 18)


def parse_feed_decimals(specs: Sequence[str]) -> dict[str, tuple[str, int]]:
    """``SUBJECT=0xADDRESS[:DECIMALS]`` strings (``monitor replay --feed``: no chain to ask a
    feed its decimals) as subject → (lower-case address, decimals; `DEFAULT_DECIMALS` when
    not given)."""
    plain, decimals = [], {}
    for spec in specs:
        head, colon, tail = spec.rpartition(":")
        if colon and re.fullmatch(r"\d{1,2}", tail.strip()):
            plain.append(head)
            decimals[head.partition("=")[0].strip()] = int(tail)
        else:
            plain.append(spec)
    return {s: (a, decimals.get(s, DEFAULT_DECIMALS)) for s, a in parse_feeds(plain).items()}


@dataclass(frozen=True)
class FeedHistory:
    """A feed's past rounds read from block tables: the prices, and the round behind each
    (subject, time), to give the alerts raised on them what `monitor run` gives its own."""

    series: PriceSeries
    rounds: dict[tuple[str, float], tuple[int, FeedRound]]  # → (block, round)
    last_round: dict[str, int]  # feed address → the last round id read (for a resumed replay)

    def attach(self, alerts: Sequence[Alert]) -> list[Alert]:
        """``alerts`` with the block of the round each was raised on, and the round (feed,
        round id, answer, transaction) in its evidence, as the live monitor stores them."""
        out = []
        for alert in alerts:
            found = self.rounds.get((alert.subject, alert.time))
            if found is None:
                out.append(alert)
                continue
            block, read = found
            evidence = {**alert.evidence, **read.evidence()}
            out.append(replace(alert, block=block, evidence=evidence))
        return out


def rounds_in_tables(
    folder: Path, feeds: dict[str, tuple[str, int]], after: dict[str, int] | None = None
) -> FeedHistory:
    """The rounds of ``feeds`` (subject → address, decimals) that the ``AnswerUpdated`` logs of
    the block tables under ``folder`` (`ingest rpc`) hold, as a price series: each round once
    (a round id not above one seen before, or than ``after``'s for its feed address — what an
    earlier replay read —, is left out, as the live reader does), its price the answer over
    10^decimals, at its ``updatedAt``, in time order. An error when the tables have no logs,
    or none of these feeds'; an empty series when every round is in ``after``."""
    import duckdb

    from proofmind.intel.etherscan import connect
    from proofmind.monitor.prices import PriceSeries

    con = connect(folder)
    try:
        present = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        if "logs" not in present:
            raise InputError(
                f"{folder} has no logs table, so no feed rounds",
                hint="ingest the feed's blocks with `proofmind ingest rpc` (with receipts: "
                "its logs), then replay them with --feed",
            )
        subject_of = {address: subject for subject, (address, _) in feeds.items()}
        rows = con.execute(
            "SELECT lower(address), topic1, topic2, data, block_number, hash FROM logs "
            "WHERE lower(topic0) = $1 AND lower(address) IN (SELECT unnest($2::VARCHAR[])) "
            "ORDER BY block_number, log_index",
            [ANSWER_UPDATED, list(subject_of)],
        ).fetchall()
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0][:200]
        raise InputError(f"cannot read the logs in {folder}: {first}") from exc
    finally:
        con.close()
    # the live reader's decoding and its memory of the last round per feed, from ``after``
    reader = FeedReader({subject: address for subject, (address, _) in feeds.items()})
    reader.decimals = {address: decimals for address, decimals in feeds.values()}
    reader.last_round = {a: int(n) for a, n in (after or {}).items() if a in subject_of}
    found: list[tuple[int, FeedRound]] = []
    for address, topic1, topic2, data, block, tx in rows:
        got = reader.from_log(address, topic1, topic2, data, tx)
        if got is not None:
            found.append((int(block), got))
    if not rows:
        named = ", ".join(f"{s}={a}" for s, (a, _) in feeds.items())
        raise InputError(
            f"no AnswerUpdated log of {named} in the tables under {folder}",
            hint="check the addresses (an aggregator's, not its proxy's: proxies emit no "
            "rounds) and that the ingested blocks cover the feed's rounds",
        )
    found.sort(key=lambda pair: pair[1].observation.time)  # stable: block order kept
    seen_at = [r.observation for _, r in found]
    series = PriceSeries(
        np.array([o.subject for o in seen_at]),
        np.array([o.time for o in seen_at], dtype=np.float64),
        np.array([o.price for o in seen_at], dtype=np.float64),
    )
    rounds: dict[tuple[str, float], tuple[int, FeedRound]] = {}
    for block, read in found:  # an alert dated by a time two rounds share: the first's
        rounds.setdefault((read.observation.subject, read.observation.time), (block, read))
    return FeedHistory(series, rounds, reader.last_round)


@dataclass(frozen=True, slots=True)
class FeedRound:
    """One round read from a feed, and where: the price and the facts behind it."""

    observation: PriceObservation
    feed: str
    round_id: int
    answer: int
    tx: str | None = None

    def evidence(self) -> dict[str, Any]:
        found = {"feed": self.feed, "round_id": self.round_id, "answer": str(self.answer)}
        return {**found, "tx": self.tx} if self.tx else found


class FeedReader:
    """The new rounds of some feeds, block by block (see the module's docstring)."""

    def __init__(
        self, feeds: dict[str, str], *, read: ReadMode = "logs", max_backfill: int = 500
    ) -> None:
        if read not in READ_MODES:
            raise InputError(f"unknown feed read mode {read!r}", hint="use logs or rounds")
        self.feeds = {subject: address.lower() for subject, address in feeds.items()}
        self.read_mode: ReadMode = read
        self.max_backfill = max_backfill
        self._subject = {address: subject for subject, address in self.feeds.items()}
        self.decimals: dict[str, int] = {}
        self.last_round: dict[str, int] = {}

    def config(self) -> dict[str, Any]:
        return {"feeds": self.feeds, "read": self.read_mode, "max_backfill": self.max_backfill}

    def _contract(self, w3: Web3, address: str) -> Contract:
        return w3.eth.contract(address=to_checksum_address(address), abi=_FEED_ABI)

    def connect(self, w3: Web3) -> None:
        """Read each feed's decimals once; a feed that does not answer is an input error."""
        for subject, address in self.feeds.items():
            if address in self.decimals:
                continue
            try:
                self.decimals[address] = int(
                    self._contract(w3, address).functions.decimals().call()
                )
            except (ContractLogicError, Web3Exception, ValueError) as exc:
                raise InputError(
                    f"feed {subject} at {address} does not answer decimals(): {type(exc).__name__}",
                    hint="give the address of an AggregatorV3Interface price feed on this chain",
                ) from exc

    def read(self, w3: Web3, event: BlockEvent) -> list[FeedRound]:
        """The rounds that are new in block ``event``, in feed and round order."""
        self.connect(w3)
        if self.read_mode == "logs":
            return self._from_logs(event)
        return [r for address in self.feeds.values() for r in self._from_rounds(w3, address, event)]

    def _round(
        self, address: str, round_id: int, answer: int, updated: int, tx: str | None
    ) -> FeedRound | None:
        if round_id <= self.last_round.get(address, 0):
            return None  # seen already (a range replayed after a crash)
        self.last_round[address] = round_id
        price = answer / 10 ** self.decimals[address]
        observation = PriceObservation(self._subject[address], float(updated), price)
        return FeedRound(observation, address, round_id, answer, tx)

    def _from_logs(self, event: BlockEvent) -> list[FeedRound]:
        found = []
        for entry in event.logs:
            if entry["address"] not in self._subject or entry["topic0"] != ANSWER_UPDATED:
                continue
            got = self.from_log(entry["address"], entry["topic1"], entry["topic2"],
                                entry["data"], entry["hash"])  # fmt: skip
            if got is not None:
                found.append(got)
        return found

    def from_log(
        self, address: str, topic1: str | None, topic2: str | None, data: str | None, tx: str
    ) -> FeedRound | None:
        """The round of one ``AnswerUpdated`` log of the feed at ``address`` (its indexed
        answer and round id, its ``updatedAt`` in the data), or None when it is not
        Chainlink's event or its round was read already (live, and in a replay of ingested
        logs alike)."""
        if topic1 is None or topic2 is None:
            return None  # not Chainlink's AnswerUpdated (its first two fields are indexed)
        answer = int(topic1, 16)
        if answer >= 2**255:
            answer -= 2**256
        updated = int(data, 16) if data not in (None, "0x", "") else 0
        return self._round(address, int(topic2, 16), answer, updated, tx)

    def _from_rounds(self, w3: Web3, address: str, event: BlockEvent) -> list[FeedRound]:
        functions = self._contract(w3, address).functions
        try:
            latest = functions.latestRoundData().call(block_identifier=event.number)
        except (ContractLogicError, BadFunctionCallOutput):
            return []  # no round yet, or the feed is not deployed yet at this block
        except Web3Exception as exc:
            raise ChainError(f"latestRoundData() of {address} failed: {exc}") from exc
        newest = int(latest[0])
        if address not in self.last_round:
            # first block watched: rounds before it are history, not news
            self.last_round[address] = self._latest_before(w3, address, event.number)
        first = self.last_round[address] + 1
        if newest - first + 1 > self.max_backfill:
            log.warning("feed %s: %d rounds in block %d, reading the last %d", address,
                        newest - first + 1, event.number, self.max_backfill)  # fmt: skip
            first = newest - self.max_backfill + 1
        found = []
        for round_id in range(first, newest + 1):
            data = latest if round_id == newest else self._round_data(functions, round_id, event)
            if data is None:
                continue
            got = self._round(address, int(data[0]), int(data[1]), int(data[3]), None)
            if got is not None:
                found.append(got)
        return found

    def _round_data(self, functions: Any, round_id: int, event: BlockEvent) -> Any:
        try:
            return functions.getRoundData(round_id).call(block_identifier=event.number)
        except ContractLogicError:
            return None  # a round id the feed does not have (a phase change in a proxy)

    def _latest_before(self, w3: Web3, address: str, block: int) -> int:
        if block == 0:
            return 0
        try:
            functions = self._contract(w3, address).functions
            return int(functions.latestRoundData().call(block_identifier=block - 1)[0])
        except (ContractLogicError, BadFunctionCallOutput):
            return 0

    def to_state(self) -> dict[str, Any]:
        return {"decimals": dict(self.decimals), "last_round": dict(self.last_round)}

    def restore(self, state: dict[str, Any] | None) -> None:
        state = state or {}
        self.decimals = {k: int(v) for k, v in state.get("decimals", {}).items()}
        self.last_round = {k: int(v) for k, v in state.get("last_round", {}).items()}
