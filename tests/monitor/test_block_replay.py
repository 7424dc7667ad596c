"""`monitor replay` over ingested block tables: the BlockEvents rebuilt from the canonical rows,
the batched detector paths equal to the block-by-block loop, state save/restore, scoring, and
the per-token / per-address flow model on constructed and on real (eth_fraud) data."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proofmind.cli.main import main
from proofmind.errors import InputError
from proofmind.intel.etherscan import import_etherscan
from proofmind.intel.tables import arrow_schema
from proofmind.monitor.api import BlockEvent
from proofmind.monitor.blockreplay import BlockTables, replay_blocks
from proofmind.monitor.registry import load_detectors
from proofmind.monitor.subjectflow import SubjectFlowDetector

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "eth_fraud"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason="../shared/datasets/eth_fraud is not beside the repo"
)
TOKEN = "0x" + "70" * 20
FUNDER = "0x" + "f0" * 20
USER = f"0x{7:040x}"  # one of the 30 ordinary users


def _addr(n: int) -> str:
    return f"0x{n:040x}"


def _write_tables(folder: Path, blocks: int, seed: int = 3, burst: int | None = None) -> None:
    """Constructed canonical tables: per block a few small ether transfers among 30 users, a
    reverted transaction now and then, and 1-3 transfers of one token; ``burst``: that block
    has 40 large token transfers, a funder seeding 15 fresh addresses with 30 ETH each, and
    one of the users (``USER``) sending 8 transfers of 120 ETH."""
    rng = random.Random(seed)
    txs: list[dict[str, object]] = []
    transfers: list[dict[str, object]] = []
    for number in range(1000, 1000 + blocks):
        ts = 1_600_000_000 + 12 * number
        moves = [(_addr(rng.randint(1, 30)), _addr(rng.randint(1, 30)), rng.uniform(0.1, 2))
                 for _ in range(rng.randint(1, 3))]  # fmt: skip
        if burst is not None and number == 1000 + burst:
            moves += [(FUNDER, _addr(10**6 + k), 30.0) for k in range(15)]
            moves += [(USER, _addr(2 * 10**6 + k), 120.0) for k in range(8)]
        for index, (sender, receiver, ether) in enumerate(moves):
            txs.append(
                {
                    "block_number": number, "timestamp": ts,
                    "hash": f"0x{number:032x}{index:032x}", "tx_index": index, "nonce": 0,
                    "from_address": sender, "to_address": receiver,
                    "value_wei": int(ether * 1e18), "gas": 21000, "gas_price": 10**9,
                    "gas_used": 21000, "status": 0 if rng.random() < 0.05 else 1,
                    "input": "0x", "method_id": None, "contract_address": None,
                }
            )  # fmt: skip
        is_burst = burst is not None and number == 1000 + burst
        count = 40 if is_burst else rng.randint(1, 3)
        for k in range(count):
            value = 10**24 if is_burst else rng.randint(10**18, 5 * 10**18)
            transfers.append(
                {
                    "block_number": number, "timestamp": ts, "hash": f"0x{number:032x}{k:032x}",
                    "log_index": k, "token": TOKEN, "from_address": _addr(rng.randint(1, 30)),
                    "to_address": _addr(rng.randint(1, 30)), "value": str(value),
                    "token_decimals": 18, "token_name": "T", "token_symbol": "T",
                }
            )  # fmt: skip
    for table, rows in (("transactions", txs), ("erc20_transfers", transfers)):
        part = folder / table / "block_range=0"  # as `ingest` partitions them
        part.mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema(table)), part / "p.parquet")


def test_block_events_are_the_canonical_rows_per_block(tmp_path: Path) -> None:
    _write_tables(tmp_path / "data", 50)
    tables = BlockTables(tmp_path / "data", chunk=7)
    events = [e for batch in tables.batches() for e in batch]
    assert [e.number for e in events] == list(range(1000, 1050))
    source = pq.read_table(tmp_path / "data" / "transactions" / "block_range=0").to_pylist()
    assert sum(len(e.transactions) for e in events) == len(source)
    for event in events:
        assert all(tx["block_number"] == event.number for tx in event.transactions)
        assert [tx["tx_index"] for tx in event.transactions] == sorted(
            tx["tx_index"] for tx in event.transactions
        )
        # the ether transfers are the successful transactions with a value: a reverted one
        # stays a transaction with status 0 and moves nothing
        moved = [tx["hash"] for tx in event.transactions if tx["status"] == 1]
        assert [t["hash"] for t in event.native_transfers] == moved
        assert event.time == 1_600_000_000 + 12 * event.number
    assert any(tx["status"] == 0 for e in events for tx in e.transactions)


def test_batched_paths_equal_the_block_by_block_loop(tmp_path: Path) -> None:
    _write_tables(tmp_path / "data", 700, burst=640)
    watched = [_addr(3), _addr(7)]
    params = {
        "watch": {"addresses": watched},
        "flow-anomaly": {"window_size": 50, "threshold": 0.6, "cooldown_blocks": 5},
        "funding-fan-out": {"min_recipients": 5, "max_seen": 40},
        "subject-flow": {"warmup": 10, "threshold": 3.0, "cooldown_blocks": 5},
    }
    names = list(params)
    loop, batched = load_detectors(names, params), load_detectors(names, params)
    tables = BlockTables(tmp_path / "data", chunk=64)
    expected = replay_blocks(tables.batches(), loop, batched=False)
    got = replay_blocks(tables.batches(), batched, batched=True)
    assert got == expected
    kinds = {a.detector for a in expected}
    assert kinds == set(names)  # every detector raised something: the equality is not vacuous
    said = {a.kind.split(":")[0]: a.explanation for a in expected if a.detector == "watch"}
    assert re.fullmatch(r"transaction (from|to) 0x\w{40}: [\d.e+-]+ ETH (to|from) 0x\w{40}.*",
                        said["tx"]), said  # fmt: skip
    assert re.fullmatch(r"ERC-20 transfer (from|to) 0x\w{40}: \d+ base units of token 0x\w{40} "
                        r"(to|from) 0x\w{40}", said["erc20"]), said  # fmt: skip
    for a, b in zip(loop, batched, strict=True):
        assert json.dumps(a.to_state(), sort_keys=True) == json.dumps(b.to_state(), sort_keys=True)


def test_an_injected_token_burst_is_flagged_and_steady_flow_is_not(tmp_path: Path) -> None:
    _write_tables(tmp_path / "steady", 600)
    _write_tables(tmp_path / "burst", 600, burst=500)
    # the funder of the burst is new: in its own warm-up, it raises nothing (the fan-out
    # detector is the one for fresh funders)
    for name, expect in (("steady", []), ("burst", [(1500, TOKEN), (1500, USER)])):
        detector = SubjectFlowDetector()
        alerts = replay_blocks(BlockTables(tmp_path / name).batches(), [detector])
        assert sorted((a.block, a.subject) for a in alerts) == sorted(expect), name
    token_alert = next(a for a in alerts if a.kind == "token-flow")
    assert token_alert.evidence["count"] == 40 and token_alert.score >= 6
    user_alert = next(a for a in alerts if a.kind == "address-flow")
    assert user_alert.evidence["count"] >= 8 and user_alert.evidence["volume"] >= 960


def test_subject_flow_warm_up_alert_budget_and_memory_bound() -> None:
    def block(n: int, senders: list[tuple[str, float]]) -> BlockEvent:
        rows = tuple(
            {"from_address": s, "to_address": _addr(1), "value_wei": int(v * 1e18)}
            for s, v in senders
        )
        return BlockEvent(n, "", float(n), native_transfers=rows)

    quiet = [(_addr(100 + k), 1.0) for k in range(8)]
    burst = [(_addr(100 + k), 500.0) for k in range(8)]
    early = SubjectFlowDetector(warmup=20, max_alerts=3, rate_blocks=1000, max_subjects=8)
    alerts = [a for n in range(5) for a in early.evaluate(block(n, quiet))]
    alerts += early.evaluate(block(5, burst))  # in the warm-up: nothing
    assert alerts == []
    for n in range(6, 40):
        early.evaluate(block(n, quiet))
    found = early.evaluate(block(40, burst))
    assert len(found) == 3  # eight subjects burst at once, the budget allows three
    assert len(early._subjects) == 8
    early.evaluate(block(41, [(_addr(999), 1.0)]))
    assert len(early._subjects) == 8 and f"address:{_addr(100)}" not in early._subjects
    restored = SubjectFlowDetector.from_state(json.loads(json.dumps(early.to_state())))
    assert restored.to_state() == early.to_state()


def test_replay_command_writes_alerts_and_resumes_from_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_tables(tmp_path / "all", 600, burst=500)
    out, state = tmp_path / "alerts.jsonl", tmp_path / "state.json"
    events = tmp_path / "events.csv"
    events.write_text(
        "subject,start,end,source\n"
        f"{TOKEN},2020-09-13T17:00,2020-09-13T18:00,constructed burst\n"
        f"{_addr(5)},2020-09-13T00:00,2020-09-13T01:00,a window with no alert\n",
        encoding="utf-8",
    )
    report = tmp_path / "scores.json"
    code = main(["monitor", "replay", str(tmp_path / "all"), "-d", "subject-flow", "-o", str(out),
                 "--events", str(events), "--report", str(report)])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    whole = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(a["block"], a["subject"]) for a in whole] == [(1500, TOKEN), (1500, USER)]
    scored = printed[printed.index("scored: all block alerts") :]
    summary = json.loads(scored[scored.index("{") : scored.rindex("}") + 1])
    assert summary["events"] == 2 and summary["detected"] == 1 and summary["false_alerts"] == 1
    written = json.loads(report.read_text(encoding="utf-8"))  # --report: the same, as JSON
    assert written["summary"] == summary
    assert [w["subject"] for w in written["missed"]] == [_addr(5)]
    [found] = written["detected"]  # the burst's window, by the token's alert
    assert (found["subject"], found["alert"]["subject"]) == (TOKEN, TOKEN)
    assert f"detected: {TOKEN} 2020-09-13 by the subject-flow " in " ".join(printed.split())
    # the same history in two folders, replayed in turn through --state: the same alerts
    table = pq.read_table(tmp_path / "all" / "transactions" / "block_range=0" / "p.parquet")
    transfers = pq.read_table(tmp_path / "all" / "erc20_transfers" / "block_range=0" / "p.parquet")
    for part, keep in (("a", lambda b: b < 1300), ("b", lambda b: b >= 1300)):
        for name, rows in (("transactions", table), ("erc20_transfers", transfers)):
            mask = pa.array([keep(b) for b in rows.column("block_number").to_pylist()])
            (tmp_path / part / name / "block_range=0").mkdir(parents=True)
            pq.write_table(
                rows.filter(mask), tmp_path / part / name / "block_range=0" / "p.parquet"
            )
    halves = []
    for part in ("a", "b"):
        written = tmp_path / f"{part}.jsonl"
        assert main(["monitor", "replay", str(tmp_path / part), "-d", "subject-flow",
                     "--state", str(state), "-o", str(written)]) == 0  # fmt: skip
        halves += [json.loads(x) for x in written.read_text().splitlines()]
    assert halves == whole
    # replaying a folder already covered by the state adds nothing
    assert main(["monitor", "replay", str(tmp_path / "b"), "-d", "subject-flow",
                 "--state", str(state), "-o", str(tmp_path / "again.jsonl")]) == 0  # fmt: skip
    assert (tmp_path / "again.jsonl").read_text() == ""


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("empty-dir", [], "is a folder with neither ingested block tables"),
        ("text", [], "cannot tell what"),
        ("tables", ["-d", "depeg"], "read prices, not blocks"),
        ("tables", ["--input", "xml"], "--input 'xml' is not one of"),
        ("tables", ["--subjects", "FEI"], "--subjects selects price assets"),
    ],
)
def test_bad_input_is_one_clear_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    setup: str,
    args: list[str],
    message: str,
) -> None:
    target = tmp_path / "x"
    if setup == "empty-dir":
        target.mkdir()
    elif setup == "text":
        target = tmp_path / "notes.txt"
        target.write_text("hello", encoding="utf-8")
    else:
        _write_tables(target, 5)
    assert main(["monitor", "replay", str(target), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_block_tables_reject_a_folder_without_tables(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="holds no ingested block tables"):
        BlockTables(tmp_path)


@needs_shared
def test_real_eth_fraud_history_batched_equals_loop_and_flows_are_bounded(
    tmp_path: Path,
) -> None:
    import_etherscan(
        [SHARED / "transactions.csv.gz", SHARED / "token_transfers.csv.gz"], tmp_path / "data"
    )
    from proofmind.intel.etherscan import connect
    from proofmind.intel.fraud import address_features, read_labels, train_model

    labels = read_labels(SHARED / "labels.csv")
    train = {a: y for a, y in labels.items() if int(a[-1], 16) % 2 == 0}
    train_model(
        address_features(connect(tmp_path / "data"), list(train)), train, tmp_path / "m.txt"
    )
    tables = BlockTables(tmp_path / "data", chunk=5000, segment=2)
    first = list(tables.batches())[:4]  # 20,000 real blocks (the loop path is slow)
    # held-out accounts with a short history in these blocks (the loop path scores each
    # counterparty with its own feature query: a long history would take minutes), some of
    # them exposed (found by a first batched pass over all held-out accounts)
    moves: dict[str, int] = {}
    for batch in first:
        for event in batch:
            for tx in event.transactions:
                for address in (tx["from_address"], tx["to_address"]):
                    moves[address] = moves.get(address, 0) + 1
    held_out = sorted(a for a in labels if a not in train)
    survey = load_detectors(
        ["fraud-exposure"],
        {"fraud-exposure": {"addresses": held_out, "model": str(tmp_path / "m.txt"),
                            "data": str(tmp_path / "data")}},
    )  # fmt: skip
    exposed = {a.subject for a in replay_blocks(first, survey)}
    short = [a for a in held_out if 2 <= moves.get(a, 0) <= 20]
    quiet = [a for a in short if a not in exposed]
    watched = sorted([a for a in short if a in exposed][:3] + quiet[:3])
    assert any(a in exposed for a in watched)
    params: dict[str, dict[str, object]] = {
        "watch": {"addresses": watched},
        "fraud-exposure": {"addresses": watched, "model": str(tmp_path / "m.txt"),
                           "data": str(tmp_path / "data"), "cache": 20},
    }  # fmt: skip
    names = ["watch", "fraud-exposure", "flow-anomaly", "funding-fan-out", "subject-flow"]
    loop, batched = load_detectors(names, params), load_detectors(names, params)
    expected = replay_blocks(first, loop, batched=False)
    got = replay_blocks(first, batched, batched=True)
    assert got == expected
    assert {a.detector for a in expected} >= {"watch", "fraud-exposure", "flow-anomaly"}
    for a, b in zip(loop, batched, strict=True):
        assert json.dumps(a.to_state(), sort_keys=True) == json.dumps(b.to_state(), sort_keys=True)
    # the whole history through the per-subject model: alerts within the global budget
    detector = SubjectFlowDetector()
    alerts = replay_blocks(tables.batches(), [detector])
    assert alerts and all(a.detector == "subject-flow" for a in alerts)
    by_window: dict[int, int] = {}
    for alert in alerts:
        assert alert.block is not None
        by_window[alert.block // detector.rate_blocks] = (
            by_window.get(alert.block // detector.rate_blocks, 0) + 1
        )
    assert max(by_window.values()) <= 2 * detector.max_alerts
    assert len(detector._subjects) <= detector.max_subjects


def test_confidence_intervals_match_published_values() -> None:
    from proofmind.monitor.blockreplay import poisson_interval, wilson

    # Garwood's exact 95% intervals (tables in Garwood 1936 / any statistics text)
    assert poisson_interval(0) == pytest.approx((0.0, 3.689), abs=1e-3)
    assert poisson_interval(1) == pytest.approx((0.0253, 5.5716), abs=1e-3)
    assert poisson_interval(10) == pytest.approx((4.795, 18.390), abs=1e-3)
    assert poisson_interval(400) == pytest.approx((361.8, 441.3), rel=2e-3)
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-3)
    assert wilson(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-3)


def test_subject_flow_on_a_watch_list_batched_equals_loop(tmp_path: Path) -> None:
    _write_tables(tmp_path / "data", 400, burst=300)
    params = {"addresses": [USER, _addr(9)], "tokens": False, "warmup": 5, "threshold": 2.0}
    loop, batched = SubjectFlowDetector(**params), SubjectFlowDetector(**params)  # type: ignore[arg-type]
    tables = BlockTables(tmp_path / "data", chunk=50)
    expected = replay_blocks(tables.batches(), [loop], batched=False)
    assert replay_blocks(tables.batches(), [batched]) == expected
    assert {a.subject for a in expected} <= {USER, _addr(9)} and (1300, USER) in {
        (a.block, a.subject) for a in expected
    }
    assert loop.to_state() == batched.to_state()


@pytest.mark.parametrize("chunk", [1, 37, 700])
def test_tight_memories_evict_the_same_and_restore_mid_replay(tmp_path: Path, chunk: int) -> None:
    """Memories far smaller than the addresses and subjects in play (evictions in nearly every
    block, a forgotten address fresh again): the per-chunk LRU replays of funding-fan-out and
    subject-flow give the loop's alerts and state, also across a save/restore mid-replay."""
    from proofmind.monitor.registry import detector_class

    _write_tables(tmp_path / "data", 700, seed=5, burst=500)
    params = {
        "funding-fan-out": {"min_recipients": 3, "window_blocks": 30, "max_seen": 12},
        "subject-flow": {"warmup": 4, "threshold": 1.5, "cooldown_blocks": 3,
                         "max_subjects": 9, "max_alerts": 50, "rate_blocks": 100},
    }  # fmt: skip
    names = list(params)
    loop = load_detectors(names, params)
    tables = BlockTables(tmp_path / "data", chunk=chunk)
    batches = list(tables.batches())
    expected = replay_blocks(batches, loop, batched=False)
    assert {a.detector for a in expected} == set(names)
    half = max(1, len(batches) // 2)
    first = load_detectors(names, params)
    got = replay_blocks(batches[:half], first)
    restored = [detector_class(d.name).from_state(json.loads(json.dumps(d.to_state())))
                for d in first]  # fmt: skip
    got += replay_blocks(batches[half:], restored)
    assert got == expected
    for a, b in zip(loop, restored, strict=True):
        assert json.dumps(a.to_state(), sort_keys=True) == json.dumps(b.to_state(), sort_keys=True)
    assert len(restored[0]._memory()) <= 12 and len(restored[1]._subjects) <= 9  # type: ignore[attr-defined]


def test_counterparties_ahead_are_those_of_the_rows(tmp_path: Path) -> None:
    _write_tables(tmp_path / "data", 120, burst=100)
    tables = BlockTables(tmp_path / "data")
    seen: dict[str, int] = {}
    for batch in tables.batches():
        for event in batch:
            if event.number < 1050:
                continue
            for row in (*event.transactions, *event.erc20_transfers):
                if USER in (row["from_address"], row["to_address"]):
                    other = (
                        row["to_address"] if row["from_address"] == USER else row["from_address"]
                    )
                    seen.setdefault(other, event.number)
    expected = sorted(seen, key=lambda a: (seen[a], a))
    assert len(expected) > 10
    assert tables.counterparties([USER], 1050, 1000) == expected
    assert tables.counterparties([USER], 1050, 5) == expected[:5]


def test_ether_transfers_derived_from_transactions_equal_the_sql_derivation(
    tmp_path: Path,
) -> None:
    """Without a native_transfers table, a block's ether transfers come from its transactions
    in Arrow: the same rows, in the same order, as DuckDB derives them (a contract creation
    goes to the created contract; reverted and zero-value transactions move nothing)."""
    from proofmind.intel.etherscan import connect
    from proofmind.monitor.blockreplay import native_from_transactions

    _write_tables(tmp_path / "data", 60, burst=40)
    part = tmp_path / "data" / "transactions" / "block_range=0" / "p.parquet"
    rows = pq.read_table(part).to_pylist()
    creation = {**rows[0], "hash": "0x" + "c1" * 32, "tx_index": 99, "to_address": None,
                "contract_address": "0x" + "cc" * 20, "value_wei": 5 * 10**18}  # fmt: skip
    zero = {**rows[1], "hash": "0x" + "0e" * 32, "tx_index": 98, "value_wei": 0}
    rows += [creation, zero]
    pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema("transactions")), part)
    con = connect(tmp_path / "data")
    expected = con.execute(
        "SELECT block_number, timestamp, hash, from_address, "
        "coalesce(to_address, contract_address, '') AS to_address, value_wei FROM transactions "
        "WHERE status = 1 AND value_wei > 0 ORDER BY block_number, hash, from_address, to_address"
    ).to_arrow_table()
    transactions = con.execute(
        "SELECT * FROM transactions ORDER BY block_number, tx_index, hash"
    ).to_arrow_table()
    got = native_from_transactions(transactions)
    assert got.equals(expected.combine_chunks())
    assert "0x" + "cc" * 20 in got.column("to_address").to_pylist()
    assert "0x" + "0e" * 32 not in got.column("hash").to_pylist()
    events = [e for batch in BlockTables(tmp_path / "data", chunk=9).batches() for e in batch]
    assert [t["hash"] for e in events for t in e.native_transfers] == got.column("hash").to_pylist()


@pytest.mark.parametrize("same_folder", [True, False], ids=["features-from-replayed", "other"])
def test_exposure_scores_only_counterparties_with_data_in_its_own_tables(
    tmp_path: Path, same_folder: bool
) -> None:
    """fraud-exposure scores counterparties from the tables given as its ``data``: replaying
    other tables, a counterparty absent from its own has no score and raises nothing (the
    batched path knows every counterparty has data only when both are the same folder)."""
    from proofmind.intel.etherscan import connect
    from proofmind.intel.fraud import address_features, train_model

    _write_tables(tmp_path / "replayed", 300, burst=250)
    _write_tables(tmp_path / "other", 300, seed=9)  # the same users, no burst
    users = [_addr(n) for n in range(1, 31)]
    labels = {a: n % 2 for n, a in enumerate(users)}
    train_model(address_features(connect(tmp_path / "replayed"), users), labels,
                tmp_path / "m.txt")  # fmt: skip
    data = tmp_path / ("replayed" if same_folder else "other")
    params = {"addresses": [USER], "model": str(tmp_path / "m.txt"), "data": str(data),
              "threshold": 1e-9}  # fmt: skip
    loop = load_detectors(["fraud-exposure"], {"fraud-exposure": params})
    batched = load_detectors(["fraud-exposure"], {"fraud-exposure": params})
    tables = BlockTables(tmp_path / "replayed", chunk=40, segment=2)
    expected = replay_blocks(tables.batches(), loop, batched=False)
    assert replay_blocks(tables.batches(), batched) == expected
    burst = {_addr(2 * 10**6 + k) for k in range(8)}  # USER's recipients in the burst block
    exposed = {a.evidence["counterparty"] for a in expected}
    assert exposed & set(users)
    assert (burst <= exposed) if same_folder else not (burst & exposed)


def test_block_tables_leave_mimalloc_while_reading_unless_the_user_chose_a_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Arrow's pool is switched only while the batches are read, then put back: a program
    that replays blocks keeps its own pool for everything else."""
    import pyarrow as pa

    _write_tables(tmp_path / "data", 50)
    before = pa.default_memory_pool()
    try:
        pa.set_memory_pool(pa.mimalloc_memory_pool())
        monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "mimalloc")
        for _ in BlockTables(tmp_path / "data", chunk=10).batches():
            assert pa.default_memory_pool().backend_name == "mimalloc"  # the user's choice
        monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL")
        tables = BlockTables(tmp_path / "data", chunk=10)
        assert pa.default_memory_pool().backend_name == "mimalloc"
        pools = {pa.default_memory_pool().backend_name for _ in tables.batches()}
        assert pools <= {"jemalloc", "system"} and pools
        assert pa.default_memory_pool().backend_name == "mimalloc"  # put back when done
        reading = tables.batches()
        next(reading)
        assert pa.default_memory_pool().backend_name != "mimalloc"
        reading.close()  # a replay stopped half way puts it back too
        assert pa.default_memory_pool().backend_name == "mimalloc"
    finally:
        pa.set_memory_pool(before)


@given(
    accesses=st.lists(st.integers(0, 30), max_size=300),
    held=st.lists(st.integers(0, 40), max_size=12, unique=True),
    capacity=st.integers(1, 15),
)
@settings(max_examples=300, deadline=None)
def test_lru_replay_counts_as_the_memory_itself_keeps(
    accesses: list[int], held: list[int], capacity: int
) -> None:
    """`lru_replay` (counting distinct keys between accesses) and the access-by-access memory
    it falls back to when the counting gets long give the same: which accesses found their
    key held, and which keys are held at the end (by their last position, oldest first)."""
    import numpy as np

    from proofmind.monitor import blockreplay

    start = held[:capacity]
    codes = np.asarray(start + accesses, dtype=np.int64)
    counted = blockreplay.lru_replay(codes, len(start), capacity)
    kept = blockreplay._lru_loop(codes, len(start), capacity)
    assert counted[0].tolist() == kept[0].tolist()
    assert counted[1].tolist() == kept[1].tolist()
    # and a naive list-based memory agrees on the held flags
    memory: list[int] = list(start)
    for k, key in enumerate(accesses):
        assert counted[0][k] == (key in memory)
        if key in memory:
            memory.remove(key)
        memory.append(key)
        memory = memory[-capacity:]
    assert [int(codes[p]) for p in counted[1]] == memory


@pytest.mark.parametrize("chunk", [7, 150])
def test_flow_scores_and_masses_equal_river_row_by_row(tmp_path: Path, chunk: int) -> None:
    """flow-anomaly with a threshold every warm block passes: each block's score (in its
    alert) and, after the replay, every tree node's masses equal river's row-by-row path,
    with chunks that start and end inside windows and several windows per chunk."""
    from proofmind.monitor.flow import FlowAnomalyDetector

    _write_tables(tmp_path / "data", 400, burst=300)
    params = {"window_size": 20, "threshold": 0.01, "cooldown_blocks": 1}
    loop, batched = FlowAnomalyDetector(**params), FlowAnomalyDetector(**params)  # type: ignore[arg-type]
    tables = BlockTables(tmp_path / "data", chunk=chunk)
    expected = replay_blocks(tables.batches(), [loop], batched=False)
    assert len(expected) > 300  # nearly every block after the two warm-up windows
    assert replay_blocks(tables.batches(), [batched]) == expected
    assert batched._arrays is not None
    batched._arrays.store()

    def masses(detector: FlowAnomalyDetector) -> list[tuple[int, int]]:
        found, stack = [], list(detector._trees().trees)
        while stack:
            node = stack.pop()
            found.append((node.l_mass, node.r_mass))
            stack += getattr(node, "children", [])
        return found

    assert masses(batched) == masses(loop)


def test_a_replay_reads_a_folder_an_ingestion_is_merging(tmp_path: Path) -> None:
    """Replaying the blocks a live ingestion wrote so far while it goes on: it merges its
    parts (the same rows in fewer files), and a segment whose file went away is read again."""
    import threading

    from proofmind.intel.ingest._mapper import TABLES as INGESTED
    from proofmind.intel.ingest._tables import compact, write_range

    data = tmp_path / "chaindata"

    def commit(n: int) -> None:
        rows: dict[str, list[dict[str, object]]] = {t: [] for t in INGESTED}
        block = {"block_number": n, "hash": f"0x{n:064x}", "timestamp": 1_700_000_000 + n}
        rows["blocks"] = [block]
        rows["transactions"] = [
            {"block_number": n, "hash": f"0x{n:064x}", "tx_index": 0, "status": 1,
             "from_address": "0x" + "a1" * 20, "to_address": "0x" + "b2" * 20, "value_wei": n}
        ]  # fmt: skip
        write_range(data, n, n, rows)
        compact(data, n)

    for n in range(200):
        commit(n)
    stop = threading.Event()

    def follow() -> None:
        n = 200
        while not stop.is_set():
            commit(n)
            n += 1

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        for _ in range(3):
            tables = BlockTables(data, chunk=4, segment=2)  # a query every 8 blocks
            first = tables.block_count
            seen = [e.number for batch in tables.batches() for e in batch]
            assert seen == list(range(first)) and first >= 200
            assert all(len(e.transactions) == 1 for e in tables.batches().__next__())
    finally:
        stop.set()
        thread.join()
