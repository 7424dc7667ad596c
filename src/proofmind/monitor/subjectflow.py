"""Abnormal value flow per token and per address: each subject's flow in a block against its own
history, with a warm-up per subject, bounded memory and a bounded alert rate.

Subjects, per block:
- a token (kind ``token-flow``): its ERC-20 transfers in the block, how many and how much (raw
  units: each token is compared only with itself, so its decimals do not matter);
- an address (kind ``address-flow``): the ether it sent in the block (successful transfers), how
  many and how much; every sender, or only the ``addresses`` given (a watch list).

The model of a subject is an exponentially weighted mean and variance of its two features,
log(1 + count) and log(1 + volume), over the blocks where it was active (Finch's incremental
recurrences, the ones river's ``stats.EWMean`` / ``EWVar`` use, kept here as plain floats so the
state saves to JSON and restores exactly). A block's score is the larger standardised deviation
above the mean, ``(x − mean) / max(std, min_std)``, taken before the block is learned. An alert
needs a score ≥ ``threshold`` after the subject's own ``warmup`` active blocks, at most one per
subject per ``cooldown_blocks``, and at most ``max_alerts`` in all per ``rate_blocks`` blocks.
Memory: the ``max_subjects`` most recently active subjects (least recently active out first; a
subject that comes back starts a new warm-up).
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import Any, ClassVar, Self

from proofmind.errors import InputError
from proofmind.monitor.api import Alert, BlockEvent, Detector, Event
from proofmind.monitor.watch import _addresses

# per subject: [n, mean count, var count, mean volume, var volume, last alert block or -1]
_N, _MC, _VC, _MV, _VV, _LAST = range(6)


class SubjectFlowDetector(Detector):
    """Per-token and per-address flow bursts (see the module's docstring)."""

    name: ClassVar[str] = "subject-flow"
    positive: ClassVar[frozenset[str]] = frozenset(
        {"threshold", "alpha", "min_std", "max_alerts", "rate_blocks", "max_subjects"}
    )
    fractions: ClassVar[frozenset[str]] = frozenset({"alpha"})
    events: ClassVar[tuple[str, ...]] = ("block",)

    def __init__(
        self,
        *,
        tokens: bool = True,
        senders: bool = True,
        addresses: list[str] | None = None,
        warmup: int = 20,
        threshold: float = 6.0,
        alpha: float = 0.05,
        min_std: float = 0.5,
        cooldown_blocks: int = 1000,
        max_alerts: int = 10,
        rate_blocks: int = 10_000,
        max_subjects: int = 20_000,
    ) -> None:
        for label, value in (("warmup", warmup), ("cooldown_blocks", cooldown_blocks),
                             ("max_alerts", max_alerts), ("rate_blocks", rate_blocks),
                             ("max_subjects", max_subjects)):  # fmt: skip
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"subject-flow: {label} must be an integer ≥ 1, got {value!r}")
        for label, number in (("threshold", threshold), ("min_std", min_std)):
            if not isinstance(number, int | float) or not number > 0:
                raise InputError(f"subject-flow: {label} must be a number > 0, got {number!r}")
        if not isinstance(alpha, int | float) or not 0 < alpha < 1:
            raise InputError(f"subject-flow: alpha must be in (0, 1), got {alpha!r}")
        self.tokens, self.senders = bool(tokens), bool(senders)
        self.addresses = None if addresses is None else _addresses(addresses, "subject-flow")
        self.warmup, self.threshold, self.alpha = warmup, float(threshold), float(alpha)
        self.min_std, self.cooldown_blocks = float(min_std), cooldown_blocks
        self.max_alerts, self.rate_blocks, self.max_subjects = max_alerts, rate_blocks, max_subjects
        self._watched = None if self.addresses is None else set(self.addresses)
        self._subjects: OrderedDict[str, list[float]] = OrderedDict()
        self._recent: deque[int] = deque()  # blocks of the alerts within the last rate_blocks

    # -- the model ---------------------------------------------------------------------

    def _observe(
        self, kind: str, subject: str, count: int, volume: float, number: int, time: float,
        unit: str,
    ) -> Alert | None:  # fmt: skip
        x_count, x_volume = math.log1p(count), math.log1p(volume)
        key = f"{kind}:{subject}"
        model = self._subjects.get(key)
        if model is None:
            model = self._subjects[key] = [0.0, x_count, 0.0, x_volume, 0.0, -1.0]
            if len(self._subjects) > self.max_subjects:
                self._subjects.popitem(last=False)
        else:
            self._subjects.move_to_end(key)
        seen, mean_c, var_c, mean_v, var_v = model[0], model[1], model[2], model[3], model[4]
        z_count = (x_count - mean_c) / max(math.sqrt(var_c), self.min_std)
        z_volume = (x_volume - mean_v) / max(math.sqrt(var_v), self.min_std)
        a = self.alpha
        diff = x_count - mean_c
        model[1] = mean_c + a * diff
        model[2] = (1 - a) * (var_c + diff * a * diff)
        diff = x_volume - mean_v
        model[3] = mean_v + a * diff
        model[4] = (1 - a) * (var_v + diff * a * diff)
        model[0] = seen + 1
        score = max(z_count, z_volume)
        if seen < self.warmup or score < self.threshold:
            return None
        return self._decide(model, kind, subject, count, volume, number, time, unit,
                            (seen, score, z_count, z_volume, mean_c, mean_v))  # fmt: skip

    def _decide(
        self, model: list[float], kind: str, subject: str, count: int, volume: float,
        number: int, time: float, unit: str, found: tuple[float, ...],
    ) -> Alert | None:  # fmt: skip
        """The alert of a warm subject scoring above the threshold, unless its cooldown or the
        global budget holds it back (``found``: seen, score, z's, the means before learning)."""
        seen, score, z_count, z_volume, mean_c, mean_v = found
        if model[5] >= 0 and number - model[5] < self.cooldown_blocks:
            return None
        recent = self._recent
        while recent and recent[0] <= number - self.rate_blocks:
            recent.popleft()
        if len(recent) >= self.max_alerts:
            return None  # the global alert budget of the last rate_blocks blocks is spent
        recent.append(number)
        model[5] = float(number)
        usual_count, usual_volume = math.expm1(mean_c), math.expm1(mean_v)
        what = "ERC-20 transfers of token" if kind == "token" else "ether transfers sent by"
        return Alert(
            detector=self.name,
            kind=f"{kind}-flow",
            severity="high" if score >= 2 * self.threshold else "medium",
            subject=subject,
            time=time,
            score=round(score, 6),
            explanation=(
                f"block {number}: {count} {what} {subject} moving {volume:.6g} {unit}, against "
                f"a usual {usual_count:.3g} moving {usual_volume:.3g} over its last active "
                f"blocks ({score:.1f} standard deviations above)"
            ),
            evidence={
                "count": count,
                "volume": volume,
                "unit": unit,
                "usual_count": round(usual_count, 6),
                "usual_volume": usual_volume,
                "z_count": round(z_count, 6),
                "z_volume": round(z_volume, 6),
                "active_blocks_seen": int(seen),
            },
            block=number,
        )

    # -- one block ---------------------------------------------------------------------

    def _flows(
        self,
        tokens: Sequence[str],
        token_values: Sequence[str],
        senders: Sequence[str],
        ether: Sequence[float],
    ) -> list[tuple[str, str, int, float, str]]:
        """(kind, subject, count, volume, unit) of one block, tokens then senders, each in the
        order it first appears in the block."""
        found: list[tuple[str, str, int, float, str]] = []
        if self.tokens:
            flows: dict[str, list[Any]] = {}
            for token, value in zip(tokens, token_values, strict=True):
                entry = flows.get(token)
                if entry is None:
                    flows[token] = [1, float(value)]
                else:
                    entry[0] += 1
                    entry[1] += float(value)
            found += [("token", t, c, v, "base units") for t, (c, v) in flows.items()]
        if self.senders:
            watched = self._watched
            out: dict[str, list[Any]] = {}
            for sender, amount in zip(senders, ether, strict=True):
                if watched is not None and sender not in watched:
                    continue
                entry = out.get(sender)
                if entry is None:
                    out[sender] = [1, amount]
                else:
                    entry[0] += 1
                    entry[1] += amount
            found += [("address", s, c, v, "ETH") for s, (c, v) in out.items()]
        return found

    def evaluate(self, event: Event) -> list[Alert]:
        if not isinstance(event, BlockEvent):
            return []
        sent = [t for t in event.native_transfers if t["from_address"] is not None]  # not genesis
        flows = self._flows(
            [str(t.get("token") or "") for t in event.erc20_transfers],
            [str(t.get("value") or "0") for t in event.erc20_transfers],
            [str(t["from_address"]) for t in sent],
            [int(t.get("value_wei") or 0) / 1e18 for t in sent],
        )
        alerts = []
        for kind, subject, count, volume, unit in flows:
            alert = self._observe(kind, subject, count, volume, event.number, event.time, unit)
            if alert is not None:
                alerts.append(alert)
        return alerts

    def evaluate_many(self, events: Sequence[Event]) -> list[Alert]:
        """Over a replayed chunk: each block's flows per subject from the columns (grouped
        with NumPy), which subjects the bounded memory still holds at each flow found for the
        whole chunk at once (``lru_replay``), then the models updated in one tight loop in the
        order of the block-by-block path (per block tokens, then senders, each by first row),
        with the same float operations, hence the same scores, alerts and state."""
        from proofmind.monitor.blockreplay import BlockBatch, lru_replay, string_codes

        if not isinstance(events, BlockBatch) or not len(events):
            return super().evaluate_many(events)
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        erc20, native = events.tables["erc20_transfers"], events.tables["native_transfers"]
        groups: list[tuple[Any, ...]] = []  # (kind, kind order, block of row, names, amounts, unit)
        if self.tokens and erc20.num_rows:
            tokens = erc20.column("token").fill_null("").cast(pa.string())
            values = pc.cast(erc20.column("value").fill_null("0"), pa.float64())
            groups.append(("token", 0, events.block_of_rows("erc20_transfers"), tokens,
                           values.to_numpy(zero_copy_only=False), "base units"))  # fmt: skip
        if self.senders and native.num_rows:
            senders = native.column("from_address").cast(pa.string())
            wei = native.column("value_wei").fill_null(0).cast(pa.string())
            ether = pc.cast(wei, pa.float64()).to_numpy(zero_copy_only=False) / 1e18
            block = events.block_of_rows("native_transfers")
            keep = pc.is_valid(senders)  # a genesis allocation has no sender
            if self._watched is not None:
                watched = pa.array(sorted(self._watched), pa.string())
                keep = pc.and_(keep, pc.is_in(senders, value_set=watched))
            mask = keep.fill_null(False).to_numpy(zero_copy_only=False)
            senders, ether, block = senders.filter(pa.array(mask)), ether[mask], block[mask]
            groups.append(("address", 1, block, senders, ether, "ETH"))
        parts: list[tuple[Any, ...]] = []  # per group: its flows' arrays
        for kind, order, block, names, amounts, unit in groups:
            if not len(block):
                continue
            encoded = pc.dictionary_encode(pa.concat_arrays(names.chunks) if isinstance(
                names, pa.ChunkedArray) else names)  # fmt: skip
            code = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
            key = block.astype(np.int64) * (len(encoded.dictionary) + 1) + code
            _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
            counts = np.bincount(inverse)
            volumes = np.zeros(len(first), dtype=np.float64)
            np.add.at(volumes, inverse, amounts)  # in row order, as the loop adds them
            labels = pc.binary_join_element_wise(kind + ":", encoded.dictionary, "")
            parts.append((kind, order, block[first], first, code[first], counts, volumes,
                          unit, encoded.dictionary, labels))  # fmt: skip
        if not parts:
            return []
        held_keys = pa.array(list(self._subjects), pa.string())
        every, codes = string_codes(held_keys, *(p[9] for p in parts))
        start = len(held_keys)
        block = np.concatenate([p[2] for p in parts])
        order = np.concatenate([np.full(len(p[3]), p[1], dtype=np.int64) for p in parts])
        first = np.concatenate([p[3] for p in parts])
        rank = np.lexsort((first, order, block))  # per block tokens, then senders
        group = np.concatenate([np.full(len(p[3]), g, dtype=np.int64)
                                for g, p in enumerate(parts)])[rank]  # fmt: skip
        subject = np.concatenate([p[4] for p in parts])[rank]  # its code in its group
        flow_key = np.concatenate([c[p[4]] for c, p in zip(codes[1:], parts, strict=True)])[rank]
        counts = np.concatenate([p[5] for p in parts])[rank]
        volumes = np.concatenate([p[6] for p in parts])[rank]
        block = block[rank]
        held, kept = lru_replay(np.concatenate([codes[0], flow_key]), start, self.max_subjects)
        models: dict[int, list[float]] = dict(
            zip(codes[0].tolist(), self._subjects.values(), strict=True)
        )
        numbers, times = events.numbers, events.times
        a, min_std, warmup, threshold = self.alpha, self.min_std, self.warmup, self.threshold
        sqrt, log1p = math.sqrt, math.log1p
        alerts = []
        for j, (c, is_held, count, volume) in enumerate(zip(
                flow_key.tolist(), held.tolist(), counts.tolist(), volumes.tolist(),
                strict=True)):  # fmt: skip
            x_count, x_volume = log1p(count), log1p(volume)
            if is_held:
                model = models[c]
            else:
                model = models[c] = [0.0, x_count, 0.0, x_volume, 0.0, -1.0]
            seen, mean_c, var_c, mean_v, var_v = model[0], model[1], model[2], model[3], model[4]
            z_count = (x_count - mean_c) / max(sqrt(var_c), min_std)
            z_volume = (x_volume - mean_v) / max(sqrt(var_v), min_std)
            diff = x_count - mean_c
            model[1] = mean_c + a * diff
            model[2] = (1 - a) * (var_c + diff * a * diff)
            diff = x_volume - mean_v
            model[3] = mean_v + a * diff
            model[4] = (1 - a) * (var_v + diff * a * diff)
            model[0] = seen + 1
            score = max(z_count, z_volume)
            if seen < warmup or score < threshold:
                continue
            part = parts[int(group[j])]
            i = int(block[j])
            alert = self._decide(
                model, part[0], str(part[8][int(subject[j])]), count, volume,
                int(numbers[i]), float(times[i]), part[7],
                (seen, score, z_count, z_volume, mean_c, mean_v),
            )  # fmt: skip
            if alert is not None:
                alerts.append(alert)
        final = np.concatenate([codes[0], flow_key])[kept]
        self._subjects = OrderedDict(
            zip(every.take(pa.array(final, pa.int64())).to_pylist(),
                (models[c] for c in final.tolist()), strict=True)
        )  # fmt: skip
        return alerts

    # -- state -------------------------------------------------------------------------

    def _params(self) -> dict[str, Any]:
        return {
            "tokens": self.tokens,
            "senders": self.senders,
            "addresses": self.addresses,
            "warmup": self.warmup,
            "threshold": self.threshold,
            "alpha": self.alpha,
            "min_std": self.min_std,
            "cooldown_blocks": self.cooldown_blocks,
            "max_alerts": self.max_alerts,
            "rate_blocks": self.rate_blocks,
            "max_subjects": self.max_subjects,
        }

    def to_state(self) -> dict[str, Any]:
        return {
            "params": self._params(),
            "subjects": [[k, *v] for k, v in self._subjects.items()],
            "recent": list(self._recent),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        detector = cls(**state["params"])
        detector._subjects = OrderedDict((str(r[0]), [float(v) for v in r[1:]])
                                         for r in state["subjects"])  # fmt: skip
        detector._recent = deque(int(b) for b in state["recent"])
        return detector
