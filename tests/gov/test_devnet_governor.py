"""The on-chain loop on the devnet: an OpenZeppelin Governor and its votes token, a proposal
lifecycle driven by test accounts, ingested through `ingest rpc`'s tables into the governance
tables; late swings and calldata flags from it; a forecast recorded in the lineage ledger and
anchored before the vote ends, then checked against the outcome."""

from __future__ import annotations

from pathlib import Path

import pytest

from proofmind.chain.base import Chain
from proofmind.cli.main import main
from proofmind.gov.calldata import selector
from proofmind.gov.onchain import deploy_governance
from proofmind.gov.record import anchor_forecast, check_forecast, record_forecasts
from proofmind.gov.signals import late_swings
from proofmind.gov.tables import connect, import_governance
from proofmind.intel.ingest import ingest
from proofmind.workspace import init_workspace

from .test_gov import proposals_csv

pytestmark = pytest.mark.devnet
TOKEN = 10**18
PERIOD = 3600


def advance(chain: Chain, seconds: int) -> None:
    chain.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def now(chain: Chain) -> int:
    return int(chain.w3.eth.get_block("latest")["timestamp"])


def chain_tables(chain: Chain, out: Path, first: int) -> Path:
    url = str(chain.backend.record.rpc_url)  # type: ignore[attr-defined]
    ingest(chain.w3, url, out, chain_id=chain.chain_id, start=first)
    return out


def test_governor_loop_on_the_devnet(chain: Chain, tmp_path: Path) -> None:
    whale, big, small, tiny = chain.accounts[1:5]
    first = chain.w3.eth.block_number + 1
    g = deploy_governance(
        chain,
        {whale: 600 * TOKEN, big: 300 * TOKEN, small: 100 * TOKEN, tiny: 50 * TOKEN},
        treasury=1_000 * TOKEN,
        voting_period=PERIOD,
    )
    advance(chain, 2)
    token = g.token.address
    pay = bytes.fromhex(g.token.encode_abi("transfer", args=[small.address, 50 * TOKEN])[2:])
    quorum = bytes.fromhex(g.governor.encode_abi("updateQuorumNumerator", args=[5])[2:])
    pay_text = "# Pay the auditors\n\nFifty tokens from the treasury to the auditors."
    quorum_text = "# Raise the quorum to 5%\n\nMore of the supply must vote."
    a = g.propose(small, [token], [0], [pay], pay_text)
    b = g.propose(big, [g.governor.address], [0], [quorum], quorum_text)
    advance(chain, 2)
    g.vote(big, a, "for", "good work")
    g.vote(small, a, "for")
    g.vote(big, b, "for")
    g.vote(whale, b, "for")
    advance(chain, g.deadline(a) - now(chain) - 100)  # into the final 10% of the window
    g.vote(whale, a, "against")
    advance(chain, 200)
    assert (g.state(a), g.state(b)) == (3, 4)  # Defeated (the whale's late vote), Succeeded
    g.execute([g.governor.address], [0], [quorum], quorum_text)
    assert g.state(b) == 7 and int(g.governor.functions.quorumNumerator().call()) == 5
    upgrade = bytes.fromhex(
        selector("upgradeToAndCall(address,bytes)")[2:] + "00" * 12 + tiny.address[2:].lower()
        + f"{64:064x}" + "00" * 32
    )  # fmt: skip
    c = g.propose(tiny, [whale.address], [0], [upgrade], "# Upgrade the staking proxy\n\nNew code.")
    # too few votes for the quorum (5% of 2,050): For leads, yet the Governor says Defeated
    d = g.propose(tiny, [token], [0], [pay], "# Pay the auditors again\n\nOnce more.")
    advance(chain, 2)
    g.vote(tiny, d, "for")

    out = chain_tables(chain, tmp_path / "chain", first)
    data = tmp_path / "gov"
    history = proposals_csv(tmp_path / "history.csv")  # enough outcomes to fit a model
    imported = import_governance([history], data, dao="pm", chain=out, governors=[g.address])
    assert imported.actions == 4 and not imported.bad_rows
    con = connect(data)
    rows = con.execute(
        "SELECT proposal_id, author, title, status, passed FROM proposals WHERE type = 'governor' "
        "ORDER BY created_at, proposal_id"
    ).fetchall()
    assert {r[0]: r[3:] for r in rows} == {
        str(a): ("defeated", 0),
        str(b): ("executed", 1),
        str(c): ("active", None),
        str(d): ("active", None),
    }
    assert {r[0]: r[1] for r in rows}[str(a)] == small.address.lower()
    votes = con.execute(
        "SELECT proposal_id, voter, choice, vp FROM votes WHERE proposal_id = ? "
        "ORDER BY created_at",
        [str(a)],
    ).fetchall()
    assert votes == [
        (str(a), big.address.lower(), "1", 300.0),
        (str(a), small.address.lower(), "1", 100.0),
        (str(a), whale.address.lower(), "2", 600.0),
    ]
    (swing,) = late_swings(con, "pm", late=0.1, top_k=3)
    assert swing["proposal_id"] == str(a) and swing["flipped"]

    report = tmp_path / "report.md"
    assert main(["gov", "report", "--data", str(data), "--dao", "pm", "-o", str(report)]) == 0
    text = report.read_text()
    assert f"| {a} | 3 | 1 | 60% | For (400 / 0) | Against (400 / 600) | **yes** |" in text
    assert f"| {a} | 0 | {token.lower()} | **treasury** | `transfer(address,uint256)` |" in text
    assert f"| {b} | 0 | {g.address} | **parameter** |" in text
    assert f"| {c} | 0 | {whale.address.lower()} | **upgrade** |" in text

    # the forecast of the open proposal, recorded and anchored before its vote ends
    from proofmind.cli.govrun import _evaluate, _fit_open

    con, _, proposals, _ = _evaluate(data, "pm", 0.3)
    model, forecasts = _fit_open(proposals)
    assert str(c) in {f[0] for f in forecasts}
    ws, _ = init_workspace(tmp_path / "ws")
    try:
        recorded = record_forecasts(
            ws, con, "pm", model, [(f[0], f[4]) for f in forecasts], {}, data / "forecasts"
        )
        assert recorded.record.parents == (recorded.model_record.key,)
        anchored = anchor_forecast(ws, chain, recorded)
        assert str(c) in anchored.before_vote_end and anchored.block_time < g.deadline(c)
    finally:
        ws.close()

    # the vote ends without votes: defeated; the forecast is checked against it
    advance(chain, PERIOD + 10)
    out2 = chain_tables(chain, tmp_path / "chain2", first)
    import_governance([history], data, dao="pm", chain=out2, governors=[g.address])
    checked = check_forecast(connect(data), recorded.document)
    assert str(c) in checked.unchanged and not checked.changed
    # from the events alone, d passed (For ahead); the chain's state() knows the quorum
    assert {pid: y for pid, _, y in checked.resolved} == {str(c): 0, str(d): 1}
    assert checked.brier is not None
    import_governance(
        [history], data, dao="pm", chain=out2, governors=[g.address], onchain=chain.w3
    )
    settled = (
        connect(data)
        .execute(
            "SELECT proposal_id, status, passed, threshold_vp FROM proposals "
            "WHERE type = 'governor'"
        )
        .fetchall()
    )
    assert {r[0]: r[1:] for r in settled} == {
        str(a): ("defeated", 0, 82.0),  # 4% of 2,050
        str(b): ("executed", 1, 82.0),
        str(c): ("defeated", 0, 102.5),  # 5% after b
        str(d): ("defeated", 0, 102.5),
    }
    checked = check_forecast(connect(data), recorded.document)
    assert {pid: y for pid, _, y in checked.resolved} == {str(c): 0, str(d): 0}
