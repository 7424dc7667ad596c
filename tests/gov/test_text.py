"""Governance texts, offline: sentences from Markdown, summaries (title-guided, TextRank,
LexRank, lead), keyword-rule categories, YAKE keywords, VADER tone, the scores used to
evaluate them, `gov texts` and the report section; and on the MakerDAO polls when present."""

from __future__ import annotations

import gzip
import json
import socket
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from proofmind.cli.main import main
from proofmind.gov import text as gt
from proofmind.gov.tables import connect, import_governance

MAKER = (
    Path(__file__).resolve().parents[3] / "shared/datasets/governance_texts/maker_polls.jsonl.gz"
)
SAMPLE = Path(str(resources.files("proofmind.gov").joinpath("data/snapshot_sample.json")))
BODY = """# Poll: Increase the ETH-A Debt Ceiling

The Governance Facilitators have placed a poll into the [voting system](https://vote.example).

## Review

The community can vote to increase the ETH-A Debt Ceiling from 15 million DAI to 20 million DAI.
Please review the discussion thread at https://forum.example/t/1 before voting.

- This parameter change will be included in the weekly executive vote.
- If you are new to voting, please see the **voting guide** to learn how it works.
"""


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No network and no NLTK data: whatever runs here needs neither."""
    import nltk

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path / "no-nltk-data")])


def test_sentences_from_markdown() -> None:
    sentences = gt.plain_sentences(BODY)
    assert sentences[0] == "The Governance Facilitators have placed a poll into the voting system."
    assert not any(s == "Review" or "http" in s or "**" in s for s in sentences)
    assert "This parameter change will be included in the weekly executive vote." in sentences
    assert len(sentences) == 5


def test_summaries_pick_sentences_of_the_text(offline: None) -> None:
    sentences = gt.plain_sentences(BODY)
    title = "Increase the ETH-A Debt Ceiling"
    assert gt.summarise(sentences, 1, "title", title) == [sentences[1]]
    assert gt.summarise(sentences, 1, "lead") == [sentences[0]]
    for method in ("textrank", "lexrank"):
        picked = gt.summarise(sentences, 2, method)
        assert len(picked) == 2 and all(s in sentences for s in picked)
        assert picked == [s for s in sentences if s in picked]  # text order
    assert gt.numbers_supported(" ".join(gt.summarise(sentences, 1, "title", title)), BODY)
    with pytest.raises(ValueError, match="unknown summariser"):
        gt.summarise(sentences, 1, "abstractive")


def test_analysis_with_evidence_offline(offline: None) -> None:
    found = gt.analyse("Increase the ETH-A Debt Ceiling", BODY)
    assert found.category_labels[0] == "parameter change"
    evidence = found.categories[0]
    assert evidence.sentences[0] == "Increase the ETH-A Debt Ceiling"
    assert any("Debt Ceiling" in k.label for k in found.keywords)
    assert all(k.sentences for k in found.keywords)
    assert -1 <= found.tone <= 1
    assert gt.analyse("Say hello", None).categories[0].label == "other"


def test_categories_and_tone() -> None:
    grant = gt.categorise(
        "Grant: fund the community events budget", ["It is paid from the treasury."]
    )
    assert grant[0].label == "treasury"
    upgrade = gt.categorise(
        "Upgrade the staking contract", ["The new implementation is deployed behind the proxy."]
    )
    assert upgrade[0].label == "upgrade"
    implied = gt.categorise("Community events in the plaza", [], "grant")
    assert [(e.label, e.sentences) for e in implied] == [("treasury", ("type: grant",))]
    _, evidence = gt.tone(
        ["This is a wonderful, great improvement.", "The old design was terrible and broken."]
    )
    labels = {e.label: e.sentences[0] for e in evidence}
    assert labels["most positive"].startswith("This is a wonderful")
    assert labels["most negative"].startswith("The old design")
    assert gt.tone([]) == (0.0, [])


def test_scores() -> None:
    assert gt.rouge_l("the cat sat", "the cat sat") == 1.0
    assert gt.rouge_l("a b c d", "a c") == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert gt.rouge_l("", "a") == 0.0
    assert gt.numbers_supported("from 1,000 to 2.5%", "raise 1000 DAI by 2.5")
    assert not gt.numbers_supported("to 30 million", "to 20 million")
    f1 = gt.multilabel_f1(
        [{"treasury"}, {"upgrade", "treasury"}, {"other"}],
        [{"treasury"}, {"upgrade"}, {"treasury"}],
        ("treasury", "upgrade", "other"),
    )
    assert f1["treasury"] == pytest.approx(2 * 1 / (2 + 1 + 1))
    assert f1["upgrade"] == 1.0 and f1["other"] == 0.0
    assert f1["micro"] == pytest.approx(2 * 2 / (4 + 1 + 2))


def test_texts_command_and_report(tmp_path: Path, offline: None) -> None:
    data = tmp_path / "gov"
    import_governance([SAMPLE], data)
    assert main(["gov", "texts", "--data", str(data), "--show", "2"]) == 0
    con = connect(data)
    rows = con.execute("SELECT proposal_id, categories, summary, tone FROM texts").fetchall()
    assert len(rows) == con.execute("SELECT count(*) FROM proposals").fetchone()[0]  # type: ignore[index]
    assert any("treasury" in cats for _, cats, _, _ in rows)
    from tests.gov.test_gov import proposals_csv

    titles = tmp_path / "titles"  # enough outcomes for the report's evaluation; titles only
    import_governance([proposals_csv(tmp_path / "p.csv")], titles)
    assert main(["gov", "texts", "--data", str(titles), "--show", "0"]) == 0
    out = tmp_path / "report.md"
    assert main(["gov", "report", "--data", str(titles), "-o", str(out)]) == 0
    report = out.read_text()
    assert "## Proposal texts" in report and "- categories: treasury" in report
    assert "Categories (keyword rules" in report
    import_governance([SAMPLE], data)  # new proposals: the old texts are gone
    assert not (data / "texts").exists()


@pytest.mark.skipif(not MAKER.exists(), reason="../shared/datasets/governance_texts is absent")
def test_on_makerdao_polls() -> None:
    with gzip.open(MAKER, "rt", encoding="utf-8") as f:
        polls = [json.loads(line) for line in f]
    title_scores, lead_scores, supported = [], [], 0
    for poll in polls:
        units = gt.plain_sentences(poll["body"])
        summary = " ".join(gt.summarise(units, 1, "title", poll["title"]))
        title_scores.append(gt.rouge_l(summary, poll["summary"]))
        lead_scores.append(gt.rouge_l(" ".join(units[:1]), poll["summary"]))
        supported += gt.numbers_supported(summary, poll["body"])
    assert supported == len(polls)  # extractive: every number is the body's
    gain = sum(title_scores) / len(polls) - sum(lead_scores) / len(polls)
    assert gain > 0.1  # about +0.17 (docs/governance.md)
