"""Block detectors: activity of watched addresses, and one funder seeding many fresh addresses
(the funding pattern of sybil farms)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
from numpy.typing import NDArray

from proofmind.errors import InputError
from proofmind.monitor.api import Alert, BlockEvent, Detector, Event

if TYPE_CHECKING:
    from proofmind.monitor.blockreplay import BlockBatch


def _addresses(values: Any, what: str) -> list[str]:
    import re

    if not isinstance(values, list) or not all(
        isinstance(v, str) and re.fullmatch(r"0x[0-9a-fA-F]{40}", v) for v in values
    ):
        raise InputError(f"{what} must be a list of 0x-addresses, got {values!r}")
    return sorted({v.lower() for v in values})


def touching_rows(events: BlockBatch, addresses: set[str], table: str) -> NDArray[np.int64]:
    """The rows of ``table`` in a replayed chunk from or to one of ``addresses``, ascending."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if table not in events.tables:
        return np.empty(0, dtype=np.int64)
    rows = events.tables[table]
    wanted = pa.array(sorted(addresses), pa.string())
    hit = pc.or_(
        pc.is_in(rows.column("from_address"), value_set=wanted),
        pc.is_in(rows.column("to_address"), value_set=wanted),
    ).fill_null(False)
    return np.flatnonzero(hit.to_numpy(zero_copy_only=False)).astype(np.int64)


def touching_records(
    events: BlockBatch, addresses: set[str], columns: dict[str, tuple[str, ...]]
) -> list[tuple[tuple[int, int, int], str, dict[str, Any]]]:
    """The rows of a replayed chunk from or to one of ``addresses``, only their ``columns``
    (per table) as dicts, in the order a block-by-block loop reads them: by block, then the
    tables in the order of ``columns``, then by row. Each comes with that sort key (block index
    in the chunk, table, row) and its table's name. Kept on the chunk: detectors asking for the
    same rows (watch and fraud-exposure on one list) share them."""
    import pyarrow as pa

    key = ("touching_records", frozenset(addresses), tuple(columns.items()))
    if key in events.memo:
        return events.memo[key]  # type: ignore[no-any-return]
    found: list[tuple[tuple[int, int, int], str, dict[str, Any]]] = []
    for order, (table, wanted) in enumerate(columns.items()):
        rows = touching_rows(events, addresses, table)
        if not len(rows):
            continue
        blocks = events.block_of_rows(table)[rows].tolist()
        records = events.tables[table].take(pa.array(rows)).select(list(wanted)).to_pylist()
        for i, row, record in zip(blocks, rows.tolist(), records, strict=True):
            found.append(((i, order, row), table, record))
    found.sort(key=lambda item: item[0])
    events.memo[key] = found
    return found


class WatchDetector(Detector):
    """Every transaction, ether transfer or ERC-20 transfer that touches a watched address;
    a reverted transaction is its own, more severe kind (it moved nothing, but someone tried).

    Parameters: ``addresses`` (the watched list), ``min_wei`` (ignore smaller ether moves)."""

    name: ClassVar[str] = "watch"
    events: ClassVar[tuple[str, ...]] = ("block",)

    def __init__(self, *, addresses: list[str], min_wei: int = 0) -> None:
        self.addresses = _addresses(addresses, "watch: addresses")
        if not isinstance(min_wei, int) or min_wei < 0:
            raise InputError(f"watch: min_wei must be an integer ≥ 0, got {min_wei!r}")
        self.min_wei = min_wei
        self._set = set(self.addresses)

    # the columns of each table the alerts read
    COLUMNS: ClassVar[dict[str, tuple[str, ...]]] = {
        "transactions": (
            "hash",
            "from_address",
            "to_address",
            "value_wei",
            "status",
            "input",
            "method_id",
        ),
        "erc20_transfers": ("hash", "log_index", "token", "from_address", "to_address", "value"),
    }

    def evaluate(self, event: Event) -> list[Alert]:
        if not isinstance(event, BlockEvent):
            return []
        alerts = []
        for tx in event.transactions:
            alerts.extend(self._tx_alerts(tx, event.number, event.time))
        for transfer in event.erc20_transfers:
            alerts.extend(self._transfer_alerts(transfer, event.number, event.time))
        return alerts

    def _tx_alerts(self, tx: Mapping[str, Any], number: int, time: float) -> list[Alert]:
        touched = {tx["from_address"], tx["to_address"]} & self._set
        if not touched:
            return []
        value = int(tx["value_wei"] or 0)
        reverted = tx["status"] == 0
        if not reverted and value < self.min_wei and tx["input"] == "0x":
            return []
        alerts = []
        for address in sorted(touched):
            direction = "from" if tx["from_address"] == address else "to"
            alerts.append(
                Alert(
                    detector=self.name,
                    severity="medium" if reverted else "info",
                    subject=address,
                    time=time,
                    score=float(value) / 1e18,
                    explanation=_tx_explanation(tx, direction, address, value, reverted),
                    evidence={
                        "hash": tx["hash"],
                        "from": tx["from_address"],
                        "to": tx["to_address"],
                        "value_wei": str(value),
                        "status": tx["status"],
                        "method_id": tx["method_id"],
                    },
                    block=number,
                    kind=f"{'reverted' if reverted else 'tx'}:{tx['hash']}",
                )
            )
        return alerts

    def _transfer_alerts(
        self, transfer: Mapping[str, Any], number: int, time: float
    ) -> list[Alert]:
        touched = {transfer["from_address"], transfer["to_address"]} & self._set
        return [
            Alert(
                detector=self.name,
                severity="info",
                subject=address,
                time=time,
                score=0.0,
                explanation=(
                    f"ERC-20 transfer from {address}: {transfer['value']} base units of token "
                    f"{transfer['token']} to {transfer['to_address']}"
                    if transfer["from_address"] == address
                    else f"ERC-20 transfer to {address}: {transfer['value']} base units of "
                    f"token {transfer['token']} from {transfer['from_address']}"
                ),
                evidence={
                    k: transfer[k] for k in ("hash", "token", "from_address", "to_address", "value")
                },
                block=number,
                kind=f"erc20:{transfer['hash']}:{transfer['log_index']}",
            )
            for address in sorted(touched)
        ]

    def evaluate_many(self, events: Sequence[Event]) -> list[Alert]:
        """Over a replayed chunk: only the rows touching a watched address are read (the
        columns the alerts need), in the loop's order; the others raise nothing."""
        from proofmind.monitor.blockreplay import BlockBatch

        if not isinstance(events, BlockBatch):
            return super().evaluate_many(events)
        alerts: list[Alert] = []
        for (i, _, _), table, record in touching_records(events, self._set, self.COLUMNS):
            number, time = int(events.numbers[i]), float(events.times[i])
            if table == "transactions":
                alerts.extend(self._tx_alerts(record, number, time))
            else:
                alerts.extend(self._transfer_alerts(record, number, time))
        return alerts

    def to_state(self) -> dict[str, Any]:
        return {"addresses": self.addresses, "min_wei": self.min_wei}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        return cls(addresses=state["addresses"], min_wei=state["min_wei"])


def _tx_explanation(
    tx: Mapping[str, Any], direction: str, address: str, value: int, reverted: bool
) -> str:
    """E.g. "transaction from 0xab…: 1.5 ETH to 0xcd…, call 0xa9059cbb"."""
    other = tx["from_address"] if direction == "to" else tx["to_address"]
    where = ("from " if direction == "to" else "to ") + other if other else "creating a contract"
    called = tx["to_address"] and tx["method_id"] and tx["input"] != "0x"
    call = f", call {tx['method_id']}" if called else ""
    return (
        f"{'reverted ' if reverted else ''}transaction {direction} {address}: "
        f"{ether_text(value)} ETH {where}{call}"
    )


def ether_text(wei: int) -> str:
    """``wei`` in ether, exactly and without an exponent: ``1.5``, ``0.000000000000000001``
    (a dust transfer, as address poisoning sends), ``1234567.25`` (not ``1.23457e+06``)."""
    whole, fraction = divmod(abs(int(wei)), 10**18)
    digits = f"{fraction:018d}".rstrip("0")
    return f"{'-' if wei < 0 else ''}{whole}{'.' + digits if digits else ''}"


class FundingFanOutDetector(Detector):
    """One funder sending ether to ``min_recipients`` or more fresh addresses (never seen
    before by this detector) within ``window_blocks``: the way sybil farms seed their wallets.

    The memory is bounded: the ``max_seen`` most recently seen addresses are remembered as
    not fresh; each funder's recent fresh recipients are kept for the window only."""

    name: ClassVar[str] = "funding-fan-out"
    positive: ClassVar[frozenset[str]] = frozenset({"min_recipients", "window_blocks", "max_seen"})
    events: ClassVar[tuple[str, ...]] = ("block",)

    def __init__(
        self, *, min_recipients: int = 10, window_blocks: int = 100, max_seen: int = 50_000
    ) -> None:
        for label, value in (("min_recipients", min_recipients), ("window_blocks", window_blocks),
                             ("max_seen", max_seen)):  # fmt: skip
            if not isinstance(value, int) or value < 1:
                raise InputError(f"funding-fan-out: {label} must be an integer ≥ 1")
        self.min_recipients, self.window_blocks, self.max_seen = (
            min_recipients,
            window_blocks,
            max_seen,
        )
        self._seen: OrderedDict[str, None] = OrderedDict()
        # after a batched chunk, the remembered addresses as an Arrow array (oldest first);
        # ``_seen`` is then rebuilt from it only when a block-by-block call or the state needs it
        self._held: Any = None
        self._funded: dict[str, list[tuple[int, str]]] = {}  # funder → [(block, recipient)]
        self._alerted: dict[str, int] = {}  # funder → block of its last alert

    def _memory(self) -> OrderedDict[str, None]:
        if self._held is not None:
            self._seen, self._held = OrderedDict.fromkeys(self._held.to_pylist()), None
        return self._seen

    def _see(self, address: str) -> bool:
        """Remember ``address``; whether it was new."""
        new = address not in self._seen
        self._seen[address] = None
        self._seen.move_to_end(address)
        while len(self._seen) > self.max_seen:
            self._seen.popitem(last=False)
        return new

    def evaluate(self, event: Event) -> list[Alert]:
        if not isinstance(event, BlockEvent):
            return []
        self._memory()
        alerts = []
        horizon = event.number - self.window_blocks
        for tx in event.transactions:
            self._see(tx["from_address"])
        for transfer in event.native_transfers:
            funder, recipient = transfer["from_address"], transfer["to_address"]
            if not self._see(recipient):
                continue
            recent = [(b, r) for b, r in self._funded.get(funder, []) if b > horizon]
            recent.append((event.number, recipient))
            self._funded[funder] = recent[-self.min_recipients * 4 :]
            last = self._alerted.get(funder)
            if len(recent) >= self.min_recipients and (last is None or last <= horizon):
                self._alerted[funder] = event.number
                alerts.append(self._alert(funder, recent, event.number, event.time))
        self._funded = {
            f: [(b, r) for b, r in v if b > horizon]
            for f, v in self._funded.items()
            if any(b > horizon for b, _ in v)
        }
        self._alerted = {f: b for f, b in self._alerted.items() if b > horizon}
        return alerts

    def evaluate_many(self, events: Sequence[Event]) -> list[Alert]:
        """Over a replayed chunk: which recipients are fresh is found for the whole chunk at
        once (``lru_replay`` over the chunk's senders and recipients, in the order the loop
        sees them: per block its senders, then its ether recipients); only the fresh ones go
        through the per-funder bookkeeping. The windows are pruned once at the end of the
        chunk (the alerts only look at recipients within the window, so they are the same)."""
        from proofmind.monitor.blockreplay import BlockBatch, lru_replay, string_codes

        if not isinstance(events, BlockBatch) or not len(events):
            return super().evaluate_many(events)
        import numpy as np
        import pyarrow as pa

        txs, native = events.tables["transactions"], events.tables["native_transfers"]
        columns = [txs.column("from_address"), native.column("from_address"),
                   native.column("to_address")]  # fmt: skip
        if any(c.null_count for c in columns):
            return super().evaluate_many(events)  # a genesis row: the loop's own handling
        names, (held_codes, senders, _, recipients) = string_codes(
            self._held if self._held is not None else pa.array(list(self._seen), pa.string()),
            *columns,
        )
        n_tx = len(senders)
        tx_block = events.block_of_rows("transactions")
        native_block = events.block_of_rows("native_transfers")
        # per block its senders, then its recipients (a stable sort keeps the row order)
        order = np.argsort(np.concatenate([2 * tx_block, 2 * native_block + 1]), kind="stable")
        accesses = np.concatenate([senders, recipients])[order]
        start = len(held_codes)
        held, kept = lru_replay(np.concatenate([held_codes, accesses]), start, self.max_seen)
        where = np.empty(len(order), dtype=np.int64)
        where[order] = np.arange(len(order), dtype=np.int64)
        fresh = np.flatnonzero(~held[where[n_tx:]])  # native rows with a fresh recipient
        funded, alerted = self._funded, self._alerted
        keep, window = self.min_recipients * 4, self.window_blocks
        alerts = []
        take = pa.array(fresh, pa.int64())
        fresh_funders = native.column("from_address").take(take).to_pylist()
        fresh_recipients = native.column("to_address").take(take).to_pylist()
        for row, funder, recipient in zip(fresh.tolist(), fresh_funders, fresh_recipients,
                                          strict=True):  # fmt: skip
            i = int(native_block[row])
            number = int(events.numbers[i])
            horizon = number - window
            recent = [(b, r) for b, r in funded.get(funder, []) if b > horizon]
            recent.append((number, recipient))
            funded[funder] = recent[-keep:]
            last = alerted.get(funder)
            if len(recent) >= self.min_recipients and (last is None or last <= horizon):
                alerted[funder] = number
                alerts.append(self._alert(funder, recent, number, float(events.times[i])))
        every = np.concatenate([held_codes, accesses])[kept]
        self._held = names.take(pa.array(every, pa.int64()))
        horizon = int(events.numbers[-1]) - window
        self._funded = {
            f: [(b, r) for b, r in v if b > horizon]
            for f, v in funded.items()
            if any(b > horizon for b, _ in v)
        }
        self._alerted = {f: b for f, b in alerted.items() if b > horizon}
        return alerts

    def _alert(self, funder: str, recent: list[tuple[int, str]], number: int, time: float) -> Alert:
        return Alert(
            detector=self.name,
            severity="high",
            subject=funder,
            time=time,
            score=float(len(recent)),
            explanation=(
                f"{funder} funded {len(recent)} fresh addresses within {self.window_blocks} blocks"
            ),
            evidence={
                "recipients": [r for _, r in recent][-20:],
                "first_block": recent[0][0],
            },
            block=number,
            kind="fan-out",
        )

    def to_state(self) -> dict[str, Any]:
        return {
            "min_recipients": self.min_recipients,
            "window_blocks": self.window_blocks,
            "max_seen": self.max_seen,
            "seen": list(self._memory()),
            "funded": self._funded,
            "alerted": self._alerted,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        detector = cls(
            min_recipients=state["min_recipients"],
            window_blocks=state["window_blocks"],
            max_seen=state["max_seen"],
        )
        detector._seen = OrderedDict.fromkeys(state["seen"])
        detector._funded = {f: [(int(b), str(r)) for b, r in v] for f, v in state["funded"].items()}
        detector._alerted = {f: int(b) for f, b in state["alerted"].items()}
        return detector
