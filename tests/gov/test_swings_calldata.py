"""Late swings by large holders (DuckDB, against a direct count), calldata flags of Governor
actions, and Governor event decoding into the canonical tables."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from eth_abi.abi import encode

from proofmind.cli.main import main
from proofmind.gov.calldata import flag_action, flag_proposal, selector
from proofmind.gov.governor import EVENTS, TOPICS, governor_rows
from proofmind.gov.signals import late_swings
from proofmind.gov.tables import connect, import_governance
from proofmind.workspace import open_workspace

T0, T1 = 1_700_000_000, 1_700_000_000 + 100_000  # a voting window; the final 10% from T1-10_000


def address(n: int) -> str:
    return f"0x{n:040x}"


def snapshot(
    path: Path,
    votes: dict[str, list[tuple[int, int, float, int]]],
    choices: dict[str, list[str]] | None = None,
) -> Path:
    """Proposals with (voter, choice, vp, time) votes, in Snapshot's GraphQL shape; their
    choices For, Against unless ``choices`` names others."""
    proposals, rows = [], []
    for k, (pid, cast) in enumerate(votes.items()):
        named = (choices or {}).get(pid, ["For", "Against"])
        proposals.append(
            {"id": pid, "title": f"Proposal {k}", "body": "", "choices": named,
             "start": T0, "end": T1, "state": "closed", "author": address(999),
             "type": "single-choice", "quorum": 0, "scores": [1, 0], "scores_total": 1,
             "space": {"id": "s.eth"}}
        )  # fmt: skip
        for voter, choice, vp, at in cast:
            rows.append(
                {"voter": address(voter), "created": at, "choice": choice, "vp": vp,
                 "proposal": {"id": pid}}
            )  # fmt: skip
    path.write_text(json.dumps({"data": {"proposals": proposals, "votes": rows}}))
    return path


def test_late_swings(tmp_path: Path) -> None:
    late = T1 - 5_000
    early = T0 + 1_000
    small = [(10 + i, 1, 1.0, early) for i in range(30)]  # 30 For
    data = snapshot(
        tmp_path / "s.json",
        {
            # a whale votes Against at the end: 30 For → 30 vs 50, flipped
            "flip": [*small, (1, 2, 50.0, late)],
            # the same whale early: not late, no swing
            "early": [*small, (1, 2, 50.0, early)],
            # late but on the winning side, with a large share: listed, not flipped
            "late-agree": [*small, (1, 1, 50.0, late)],
            # a whale who changed their mind late: their latest vote counts
            "changed": [*small, (1, 1, 50.0, early), (1, 2, 50.0, late)],
        },
    )
    import_governance([data], tmp_path / "gov")
    con = connect(tmp_path / "gov")
    found = {s["proposal_id"]: s for s in late_swings(con, "s.eth", late=0.1, top_k=3)}
    assert set(found) == {"flip", "late-agree", "changed"}
    assert found["flip"]["flipped"] and found["changed"]["flipped"]
    assert not found["late-agree"]["flipped"]
    assert found["flip"]["late_share"] == 50 / 80
    assert found["flip"]["late_large_voters"] == 1
    assert (found["flip"]["for_before"], found["flip"]["against_before"]) == (30, 0)
    assert (found["flip"]["for_vp"], found["flip"]["against_vp"]) == (30, 50)
    # a window of 1% leaves nothing late; a top 1 still sees the whale
    assert late_swings(con, "s.eth", late=0.01, top_k=3) == []
    assert {s["proposal_id"] for s in late_swings(con, "s.eth", top_k=1)} == set(found)
    # too few proposals for the report's evaluation: its section is checked on its own
    from proofmind.cli.govrun import _swings_section

    section = "\n".join(_swings_section(con, "s.eth", 0.1, 3))
    assert "| flip | 31 | 1 | 62% | For (30 / 0) | Against (30 / 50) | **yes** |" in section


def test_late_swings_read_for_and_against_by_the_choices_names(tmp_path: Path) -> None:
    """ "Against" listed first: a late whale voting For (choice 2) flips a proposal the early
    voters rejected (choice 1). A choice between options has no For or Against: no flip. A
    table written before the choice columns existed reads them as choice 1 and 2."""
    late, early = T1 - 5_000, T0 + 1_000
    small = [(10 + i, 1, 1.0, early) for i in range(30)]  # 30 on the first choice
    data = snapshot(
        tmp_path / "s.json",
        {"against-first": [*small, (1, 2, 50.0, late)], "options": [*small, (1, 2, 50.0, late)]},
        choices={"against-first": ["Against", "For", "Abstain"], "options": ["Blue", "Red"]},
    )
    import_governance([data], tmp_path / "gov")
    con = connect(tmp_path / "gov")
    found = {s["proposal_id"]: s for s in late_swings(con, "s.eth", late=0.1, top_k=3)}
    swing = found["against-first"]
    assert (swing["for_before"], swing["against_before"]) == (0, 30)
    assert (swing["for_vp"], swing["against_vp"]) == (50, 30)
    assert swing["flipped"] and swing["for_leads"] and not swing["for_led_before"]
    assert not found["options"]["flipped"] and found["options"]["for_vp"] == 0
    # the proposals table as an older proofmind wrote it, without the two columns
    (table,) = (tmp_path / "gov" / "proposals").glob("*.parquet")
    old = pq.read_table(table).drop_columns(["approve_choice", "reject_choice"])
    pq.write_table(old, table)
    con = connect(tmp_path / "gov")
    found = {s["proposal_id"]: s for s in late_swings(con, "s.eth", late=0.1, top_k=3)}
    assert (found["against-first"]["for_vp"], found["against-first"]["against_vp"]) == (30, 50)


def test_calldata_flags() -> None:
    token, recipient, proxy, impl = address(7), address(8), address(9), address(10)
    transfer = (
        selector("transfer(address,uint256)")
        + encode(["address", "uint256"], [recipient, 5 * 10**18]).hex()
    )
    assert transfer.startswith("0xa9059cbb")  # the ERC-20 selector everyone knows
    upgrade = (
        selector("upgradeToAndCall(address,bytes)")
        + encode(["address", "bytes"], [impl, b""]).hex()
    )
    quorum = selector("updateQuorumNumerator(uint256)") + encode(["uint256"], [7]).hex()
    flags = flag_proposal(
        [token, proxy, proxy, recipient, token, token],
        [0, 0, 0, 10**17, 0, 0],
        [transfer, upgrade, quorum, "0x", "0xdeadbeef", "0xa9059cbb00"],
    )
    assert [f.kind for f in flags] == [
        "treasury", "upgrade", "parameter", "treasury", "call", "treasury",
    ]  # fmt: skip
    assert flags[0].function == "transfer(address,uint256)"
    assert flags[0].detail == f"{recipient}, {5 * 10**18}"
    assert flags[1].detail.startswith(impl)
    assert flags[3].detail == f"sends {10**17} wei"
    assert flags[4].detail == "selector 0xdeadbeef"
    assert flags[5].detail == "arguments do not decode"
    assert selector("upgradeTo(address)") == "0x3659cfe6"
    assert flag_action(0, token, 5, "0xdeadbeef").kind == "treasury"  # value sent with a call


def _log(block: int, index: int, name: str, data: bytes, topic1: str | None = None) -> dict:
    topic0 = next(t for t, n in TOPICS.items() if n == name)
    return {"block_number": block, "log_index": index, "topic0": topic0, "topic1": topic1,
            "data": "0x" + data.hex()}  # fmt: skip


def test_governor_events_decode(tmp_path: Path) -> None:
    assert set(TOPICS.values()) == set(EVENTS)
    pid = 2**255 + 12345
    token, recipient = address(7), address(8)
    call = bytes.fromhex(
        selector("transfer(address,uint256)")[2:]
        + encode(["address", "uint256"], [recipient, 10**18]).hex()
    )
    created = encode(
        ["uint256", "address", "address[]", "uint256[]", "string[]", "bytes[]", "uint256",
         "uint256", "string"],
        [pid, address(3), [token], [0], [""], [call], T0 + 10, T0 + 100,
         "# Pay the auditors\n\nWe pay."],
    )  # fmt: skip
    vote = encode(["uint256", "uint8", "uint256", "string"], [pid, 1, 3 * 10**18, "yes"])
    against = encode(["uint256", "uint8", "uint256", "string"], [pid, 0, 10**18, ""])
    logs = [
        _log(1, 0, "ProposalCreated", created),
        _log(2, 0, "VoteCast", vote, "0x" + "0" * 24 + address(4)[2:]),
        _log(2, 1, "VoteCast", against, "0x" + "0" * 24 + address(5)[2:]),
        _log(3, 0, "VoteCast", b"\x01\x02"),  # malformed: reported, skipped
    ]
    times = {1: T0, 2: T0 + 50, 3: T0 + 200}
    rows = governor_rows(logs, times, "g", "chaindata")
    (p,) = rows.proposals
    assert p["proposal_id"] == str(pid) and p["title"] == "Pay the auditors"
    assert (p["created_at"], p["voting_ends_at"]) == (T0, T0 + 100)
    assert (p["status"], p["passed"]) == ("succeeded", 1)  # voting over, For ahead
    assert [(v["voter"], v["choice"], v["vp"]) for v in rows.votes] == [
        (address(4), "1", 3.0), (address(5), "2", 1.0)
    ]  # fmt: skip
    assert rows.actions[0]["calldata"] == "0x" + call.hex()
    assert len(rows.bad) == 1 and "log 3:0 of chaindata" in str(rows.bad[0])
    executed = [*logs[:3], _log(3, 1, "ProposalExecuted", encode(["uint256"], [pid]))]
    assert governor_rows(executed, times, "g", "c").proposals[0]["status"] == "executed"
    # a block-number clock: voteEnd 5 is a block, past the last ingested one
    by_block = encode(
        ["uint256", "address", "address[]", "uint256[]", "string[]", "bytes[]", "uint256",
         "uint256", "string"],
        [1, address(3), [], [], [], [], 2, 5, "Title"],
    )  # fmt: skip
    (q,) = governor_rows([_log(1, 0, "ProposalCreated", by_block)], times, "g", "c").proposals
    assert q["voting_ends_at"] == T0 + 200 + 2 * 100 and q["passed"] is None


def test_predict_record_and_check_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from proofmind.provenance import Kind, Ledger
    from proofmind.workspace import init_workspace

    from .test_gov import proposals_csv

    data = tmp_path / "gov"
    import_governance([proposals_csv(tmp_path / "p.csv")], data)
    ws, _ = init_workspace(tmp_path / "ws")
    ws.close()
    args = ["gov", "predict", "--data", str(data), "--record", "--no-anchor"]
    assert main([*args, "-w", str(tmp_path / "ws")]) == 0
    (document,) = (data / "forecasts").glob("forecast-*.json")
    forecast = json.loads(document.read_text())
    assert len(forecast["forecasts"]) == 5  # the five open proposals
    ws = open_workspace(tmp_path / "ws")
    try:
        kinds = sorted(r.kind for r in Ledger(ws).all())
        assert kinds == [Kind.MODEL, Kind.INFERENCE]
    finally:
        ws.close()
    capsys.readouterr()
    assert main(["gov", "check", str(document), "--data", str(data)]) == 0
    assert "5 forecasts whose inputs the tables reproduce, 0 whose" in capsys.readouterr().out
    edited = (tmp_path / "p.csv").read_text().replace("proposal 297:", "proposal 297 (edited):")
    (tmp_path / "p2.csv").write_text(edited)
    import_governance([tmp_path / "p2.csv"], tmp_path / "gov2")
    assert main(["gov", "check", str(document), "--data", str(tmp_path / "gov2")]) == 1
    out, err = capsys.readouterr()
    assert "4 forecasts whose inputs the tables reproduce, 1 whose" in out
    assert "changed or gone: id-297" in err
