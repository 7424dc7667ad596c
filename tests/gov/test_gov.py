"""Governance: ingest (Decentraland CSV, Snapshot JSON), creation-time features that never
look ahead, the time-ordered evaluation with its baselines, and the CLI."""

from __future__ import annotations

import json
import random
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from proofmind.cli.main import main
from proofmind.errors import InputError
from proofmind.gov import forecast as fc
from proofmind.gov.signals import concentration, concentration_over_time, gini, nakamoto
from proofmind.gov.tables import connect, import_governance, snapshot_outcome

HEADER = (
    "proposal_id,snapshot_id,author,type,title,created_at,voting_ends_at,threshold_vp,"
    "forum_topic_id,status"
)
SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "dao_proposals"
SAMPLE = Path(str(resources.files("proofmind.gov").joinpath("data/snapshot_sample.json")))


def proposals_csv(path: Path, n: int = 300, seed: int = 3, still_open: int = 5) -> Path:
    """Synthetic Decentraland-format proposals: grants pass less often than polls, some
    authors mostly succeed, a week of voting each; the last ``still_open`` are still open."""
    rng = random.Random(seed)
    lines = [HEADER]
    t = 1_620_000_000
    authors = [f"0x{a:040x}" for a in range(1, 25)]
    for i in range(n):
        t += rng.randrange(3_600, 200_000)
        kind = rng.choice(["poll", "grant", "poi", "governance"])
        author = rng.choice(authors)
        good = int(author[-1], 16) % 3 == 0
        p = {"poll": 0.55, "grant": 0.25, "poi": 0.6, "governance": 0.4}[kind] + 0.25 * good
        status = "passed" if rng.random() < p else "rejected"
        if i >= n - still_open:
            status = "pending"
        created = np.datetime64(t, "s").astype(str) + ".000Z"
        ends = np.datetime64(t + 7 * 86_400, "s").astype(str) + ".000Z"
        title = (
            f'"{kind} proposal {i}: fund, build, add {rng.choice(["parcel", "wearable", "event"])}"'
        )
        lines.append(f"id-{i},snap-{i},{author},{kind},{title},{created},{ends},0,{i},{status}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    import_governance([proposals_csv(tmp_path / "p.csv")], tmp_path / "gov")
    return tmp_path / "gov"


def test_features_never_use_anything_after_creation(tmp_path: Path, data: Path) -> None:
    """Features of proposal p from the full table equal those computed when the table holds
    only what existed at p's creation (later proposals removed, outcomes not yet known
    blanked)."""
    import duckdb

    full = fc.history_features(connect(data), "decentraland")
    con = connect(data)
    for k in (40, 150, 290):
        cut = int(full.created[k])
        rows = (
            con.execute(
                "SELECT * REPLACE (CASE WHEN voting_ends_at <= $cut THEN passed END AS passed) "
                "FROM proposals WHERE created_at <= $cut",
                {"cut": cut},
            )
            .arrow()
            .read_all()
        )
        truncated = duckdb.connect()
        truncated.register("snapshot_rows", rows)
        truncated.execute("CREATE TABLE proposals AS SELECT * FROM snapshot_rows")
        past = fc.history_features(truncated, "decentraland")
        assert past.ids == full.ids[: k + 1]
        np.testing.assert_array_equal(past.numeric, full.numeric[: k + 1])


def test_evaluation_is_time_ordered_with_baselines(data: Path) -> None:
    proposals = fc.history_features(connect(data), "decentraland")
    evaluation = fc.evaluate(proposals, "decentraland", test_share=0.3)
    assert set(evaluation.metrics) == {
        "majority class",
        "type only",
        "model",
        "model, refitted every 90 days",
        "model − type only",
    }
    assert evaluation.metrics["majority class"]["ROC-AUC"][0] == 0.5
    value, lo, hi = evaluation.metrics["model"]["ROC-AUC"]
    assert lo <= value <= hi and value > 0.6  # types and authors carry signal here
    assert evaluation.train + evaluation.test <= 295  # open proposals are not evaluated
    assert sum(n for *_, n in evaluation.reliability) == evaluation.test


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/datasets/dao_proposals is absent")
def test_decentraland_dev_data(tmp_path: Path) -> None:
    report = import_governance([SHARED / "proposals.csv"], tmp_path / "gov")
    assert report.proposals == 2517 and not report.bad_rows
    evaluation = fc.evaluate(fc.history_features(connect(tmp_path / "gov"), "decentraland"), "d")
    model, baseline = evaluation.metrics["model"], evaluation.metrics["type only"]
    assert model["ROC-AUC"][0] > baseline["ROC-AUC"][0]
    gain, low, _ = evaluation.metrics["model − type only"]["ROC-AUC"]
    assert low > 0, f"gain over type-only {gain:.3f}, its interval starts at {low:.3f}"
    assert model["Brier"][0] < min(
        baseline["Brier"][0], evaluation.metrics["majority class"]["Brier"][0]
    )


def test_snapshot_sample_is_parsed(tmp_path: Path) -> None:
    report = import_governance([SAMPLE], tmp_path / "gov")
    assert (report.proposals, report.votes) == (3, 6) and not report.bad_rows
    con = connect(tmp_path / "gov")
    rows = con.execute("SELECT title, passed, status FROM proposals ORDER BY created_at").fetchall()
    assert [r[1] for r in rows] == [1, 0, None]  # For wins; Against wins; still active
    voters = con.execute("SELECT DISTINCT voter FROM votes ORDER BY 1").fetchall()
    assert voters[0][0] == "0xaaaa000000000000000000000000000000000001"  # lower-cased


def test_malformed_rows_are_named_with_file_and_line(tmp_path: Path) -> None:
    path = proposals_csv(tmp_path / "p.csv", n=30)
    lines = path.read_text().splitlines()
    lines[4] = lines[4].replace(",0x", ",0xnothex", 1)
    cells = lines[9].split(",")
    lines[9] = lines[9].replace(cells[-5], "soon")  # created_at not a time
    path.write_text("\n".join(lines) + "\n")
    report = import_governance([path], tmp_path / "gov")
    found = [str(b) for b in report.bad_rows]
    assert any(f"line 5 of {path} (data row 3): author" in f for f in found), found
    assert any(f"line 10 of {path} (data row 8)" in f for f in found), found
    assert report.proposals == 28
    with pytest.raises(InputError, match="line 5 of"):
        import_governance([path], tmp_path / "strict", strict=True)
    assert not (tmp_path / "strict" / "proposals").exists()


def snapshot_vote_lines(path: Path, extra: list[str] | None = None) -> Path:
    """The sample's votes as JSON lines (Snapshot vote objects, one per line)."""
    votes = json.loads(SAMPLE.read_text())["data"]["votes"]
    lines = [json.dumps(v) for v in votes]
    path.write_text("\n".join(lines[:2] + (extra or []) + lines[2:]) + "\n")
    return path


def test_snapshot_vote_lines(tmp_path: Path) -> None:
    """Clean JSON lines go through DuckDB in one pass; the votes match the JSON answer's."""
    report = import_governance(
        [SAMPLE, snapshot_vote_lines(tmp_path / "v.jsonl")], tmp_path / "gov", dao="mine"
    )
    assert (report.proposals, report.votes) == (3, 12)
    assert not report.bad_rows and not report.read_line_by_line
    con = connect(tmp_path / "gov")
    pairs = con.execute(
        "SELECT voter, choice, vp, created_at, count(*) FROM votes GROUP BY ALL HAVING dao = 'mine'"
    ).fetchall()
    assert len(pairs) == 6 and all(r[-1] == 2 for r in pairs)  # each vote from both files
    # votes of the same voter on the same proposal count once (the latest) in the signals
    assert {r[2] for r in concentration(con, "mine")} == {4, 2}


def test_malformed_vote_lines_are_named(tmp_path: Path) -> None:
    path = snapshot_vote_lines(
        tmp_path / "v.jsonl",
        [
            "{not json",
            json.dumps({"voter": "0x12", "created": 1, "vp": 1, "choice": 1,
                        "proposal": {"id": "x"}}),
            json.dumps({"voter": "0x" + "1" * 40, "created": 1, "vp": -3, "choice": 1,
                        "proposal": {"id": "x"}}),
        ],
    )  # fmt: skip
    report = import_governance([SAMPLE, path], tmp_path / "gov")
    found = [str(b) for b in report.bad_rows]
    assert found[0].startswith(f"line 3 of {path}: vote: Expecting property name"), found
    assert found[1] == f"line 4 of {path}: vote: voter '0x12' is not an address", found
    assert found[2] == f"line 5 of {path}: vote: vp -3 is invalid", found
    assert report.votes == 6 + 6 and report.read_line_by_line == [str(path)]
    with pytest.raises(InputError, match="line 3 of"):
        import_governance([SAMPLE, path], tmp_path / "strict", strict=True)
    assert not (tmp_path / "strict").exists()


def test_bootstrap_metrics_match_scikit_learn() -> None:
    """The weighted-sum metrics equal scikit-learn's on the resampled rows (ties included)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300)
    p = np.round(np.clip(0.3 * y + rng.random(300) * 0.7, 0, 1), 2)  # many ties
    idx = rng.integers(0, 300, 300)
    w = np.bincount(idx, minlength=300).astype(np.float64)[None, :]
    got = fc._weighted_metrics(y, p, w)
    assert got["ROC-AUC"][0] == pytest.approx(roc_auc_score(y[idx], p[idx]))
    assert got["PR-AUC"][0] == pytest.approx(average_precision_score(y[idx], p[idx]))
    assert got["Brier"][0] == pytest.approx(np.mean((p[idx] - y[idx]) ** 2))
    assert got["accuracy"][0] == pytest.approx(np.mean((p[idx] >= 0.5) == y[idx]))


def test_concentration_in_duckdb_matches_the_definitions() -> None:
    import duckdb

    rng = np.random.default_rng(2)
    con = duckdb.connect()
    con.execute("CREATE TABLE votes (dao TEXT, proposal_id TEXT, voter TEXT, choice TEXT, "
                "vp DOUBLE, created_at BIGINT)")  # fmt: skip
    expected = {}
    for k in range(30):
        vp = np.round(rng.pareto(1.1, int(rng.integers(1, 40))) * 100, 1)
        vp[: k % 3] = vp[0]  # ties
        expected[f"p{k}"] = (len(vp), gini(vp), nakamoto(vp))
        con.executemany(
            "INSERT INTO votes VALUES ('d', ?, ?, '1', ?, 1)",
            [(f"p{k}", f"0x{i:040x}", float(v)) for i, v in enumerate(vp)],
        )
    con.execute("CREATE TABLE proposals AS SELECT DISTINCT dao, proposal_id, 0 AS created_at "
                "FROM votes")  # fmt: skip
    for _, pid, voters, g, k in concentration(con, "d"):
        assert (voters, k) == (expected[pid][0], expected[pid][2])
        assert g == pytest.approx(expected[pid][1], abs=1e-12)
    [(_, n, *_)] = concentration_over_time(con, "d")
    assert n == 30


def test_cli_predict_shows_20_open_proposals_and_writes_a_file_even_with_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    proposals_csv(tmp_path / "many.csv", still_open=26)
    assert main(["gov", "ingest", "many.csv", "-o", "many"]) == 0
    assert main(["gov", "predict", "--data", "many"]) == 0
    shown = capsys.readouterr().out
    assert sum(f"id-{i} " in shown for i in range(274, 300)) == 20
    assert "… and 6 more: -o FILE writes every forecast" in shown
    proposals_csv(tmp_path / "closed.csv", still_open=0)
    assert main(["gov", "ingest", "closed.csv", "-o", "closed"]) == 0
    assert main(["gov", "predict", "--data", "closed", "-o", "f.csv"]) == 0
    assert "No open proposal to forecast" in capsys.readouterr().out
    header = "proposal_id,created,type,title,p_pass"
    assert (tmp_path / "f.csv").read_text().splitlines() == [header]  # no rows, but a file


def test_a_snapshot_outcome_is_read_from_the_choices_names() -> None:
    assert snapshot_outcome(["For", "Against", "Abstain"], [90, 10, 5], 105, 100) == 1
    assert snapshot_outcome(["Against", "For"], [90, 10], 100, 0) == 0  # "For" is second here
    assert snapshot_outcome(["No", "Yes, fund it"], [10, 90], 100, 0) == 1
    assert snapshot_outcome(["YAE", "NAY"], [10, 90], 100, 0) == 0
    assert snapshot_outcome(["For", "Against"], [90, 10], 100, 500) == 0  # quorum not met
    # a choice between options has no pass or fail; nor do two ways of saying yes
    assert snapshot_outcome(["Aave", "Compound", "Abstain"], [90, 10, 1], 101, 0) is None
    assert snapshot_outcome(["Yes", "Yea", "No"], [1, 2, 3], 6, 0) is None
    assert snapshot_outcome(None, [90, 10], 100, 0) == 1  # no choices exported: first vs second


def test_snapshot_proposals_without_a_for_against_choice_have_no_outcome(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(SAMPLE.read_text())
    first = document["data"]["proposals"][0]
    first["choices"] = ["Option A", "Option B", "Abstain"]
    (tmp_path / "s.json").write_text(json.dumps(document))
    assert main(["gov", "ingest", str(tmp_path / "s.json"), "-o", str(tmp_path / "gd")]) == 0
    assert "1 closed proposal offers no for / against choice" in capsys.readouterr().out
    con = connect(tmp_path / "gd")
    passed = con.execute("SELECT passed FROM proposals WHERE proposal_id = ?", [first["id"]])
    assert passed.fetchone() == (None,)  # not a failed proposal: no outcome
    known = fc.history_features(con, "sample.eth")  # neither learnt from nor forecast as open
    assert first["id"] not in known.ids and len(known.ids) == 2
    assert np.isnan(known.passed).sum() == 1  # the one still active


def test_concentration_signals() -> None:
    assert gini(np.array([1.0, 1.0, 1.0, 1.0])) == pytest.approx(0.0)
    assert gini(np.array([0.0, 0.0, 0.0, 10.0])) == pytest.approx(0.75)
    assert nakamoto(np.array([800.5, 100.0, 120.0, 10.0])) == 1
    assert nakamoto(np.array([30.0, 30.0, 30.0, 10.0])) == 2


def test_cli_ingest_predict_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    proposals_csv(tmp_path / "p.csv")
    assert main(["gov", "ingest", "p.csv", str(SAMPLE), "-o", "gd"]) == 0
    assert main(["gov", "predict", "--data", "gd"]) == 2  # two DAOs: --dao is required
    assert "choose one with --dao" in capsys.readouterr().err
    assert main(["gov", "predict", "--data", "gd", "--dao", "decentraland", "-o", "f.csv"]) == 0
    shown = capsys.readouterr().out
    assert "type only" in shown and "majority" in shown and "Calibration" in shown
    assert len((tmp_path / "f.csv").read_text().splitlines()) == 1 + 5  # the open proposals
    # 2 outcomes cannot be evaluated: the report says so and has the votes' sections
    assert main(["gov", "report", "--data", "gd", "--dao", "sample.eth", "-o", "r.md"]) == 0
    assert "too few" in capsys.readouterr().err
    small = (tmp_path / "r.md").read_text()
    assert "None: only 2 proposals have an outcome, too few" in small
    assert "Not forecast: too few outcomes" in small
    assert "## Voting-power concentration" in small and "## Last-minute swings" in small
    assert main(["gov", "predict", "--data", "gd", "--dao", "sample.eth"]) == 2  # needs them
    assert "too few" in capsys.readouterr().err
    assert main(["gov", "report", "--data", "gd", "--dao", "decentraland", "-o", "r.md"]) == 0
    assert "## Open proposals" in (tmp_path / "r.md").read_text()
