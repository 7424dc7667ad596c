"""Sybil detection: a planted farm is found, an exchange hub does not join users, the report and
root are produced; on hop_sybil the targets hold."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from proofmind.crypto.merkle import StandardMerkleTree
from proofmind.errors import InputError
from proofmind.intel.sybil import detect, markdown_report, merkle_root, read_candidates, roc_auc

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "hop_sybil"


def addr(n: int) -> str:
    return f"0x{n:040x}"


def planted(tmp_path: Path) -> tuple[Path, list[str], set[str]]:
    """20 farm addresses funded by one address and swept to another; 60 genuine users who
    all use one exchange (a hub) and a few friends."""
    rng = random.Random(3)
    funder, sink, exchange = addr(1), addr(2), addr(3)
    farm = [addr(100 + i) for i in range(20)]
    users = [addr(1000 + i) for i in range(60)]
    edges = [(funder, f) for f in farm] + [(f, sink) for f in farm]
    edges += [(farm[i], farm[i + 1]) for i in range(19)]
    for u in users:
        edges += [(u, exchange), (exchange, u)]
        edges += [(u, addr(5000 + rng.randrange(500)))]
    for i in range(150):  # the exchange is a hub: many other counterparties
        edges.append((addr(9000 + i), exchange))
    path = tmp_path / "edges.csv"
    path.write_text(
        "chain,kind,from,to\n"
        + "".join(f"ethereum,erc20TokenTransfers,{a},{b}\n" for a, b in edges)
    )
    return path, farm + users, set(farm)


def test_a_planted_farm_is_flagged_and_exchange_users_are_not(tmp_path: Path) -> None:
    edges, candidates, farm = planted(tmp_path)
    result = detect([edges], candidates, hub_degree=100, min_cluster=8)
    flagged = {a for a, f in zip(result.addresses, result.flagged.tolist(), strict=True) if f}
    assert flagged == farm
    assert result.hubs == 1
    report = markdown_report(result)
    assert "20 of the 20 addresses transacted with 0x00000000…" in report
    root = StandardMerkleTree.of([[a] for a in sorted(farm)], ["address"]).root_hex
    assert merkle_root(sorted(flagged)) == root and f"`{root}`" in report


def test_labels_give_a_cross_validated_evaluation(tmp_path: Path) -> None:
    edges, candidates, farm = planted(tmp_path)
    labels = {a: int(a in farm) for a in candidates}
    result = detect([edges], candidates, labels=labels)
    assert set(result.metrics) >= {
        "roc_auc",
        "precision_at_recall_0.7",
        "false_positive_rate_eligible",
    }
    assert result.metrics["unsupervised_false_positive_rate_eligible"] == 0.0


def test_roc_auc_with_ties() -> None:
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert roc_auc(y, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5


def test_bad_edges_and_candidates(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("from,to\n0x1,0x2\n")
    with pytest.raises(InputError, match="not an address"):
        detect([bad], [addr(1)])
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("src,dst\n")
    with pytest.raises(InputError, match="needs columns from and to"):
        detect([wrong], [addr(1)])
    no_address = tmp_path / "c.csv"
    no_address.write_text("who\n1\n")
    with pytest.raises(InputError, match="needs an address column"):
        read_candidates(no_address)


@pytest.mark.skipif(
    not SHARED.is_dir(), reason="../shared/datasets/hop_sybil is not beside the repo"
)
def test_hop_sybil_targets() -> None:
    candidates, labels, meta = read_candidates(SHARED / "labels.csv")
    result = detect([SHARED / "transfer_edges.csv.gz"], candidates, meta=meta, labels=labels)
    assert result.metrics["roc_auc"] >= 0.90
    assert result.metrics["precision_at_recall_0.7"] >= 0.90
    assert result.metrics["false_positive_rate_eligible"] < 0.05


def test_edges_imported_into_the_canonical_tables_give_the_same_flags(tmp_path: Path) -> None:
    from proofmind.intel.edges import import_edges

    edges, candidates, farm = planted(tmp_path)
    lines = edges.read_text().splitlines()
    lines.insert(5, "ethereum,nativeTokenTransfers,0xnot-an-address,0x" + "1" * 40)
    edges.write_text("\n".join(lines) + "\n")
    report = import_edges([edges], tmp_path / "data")
    assert [(r.line, r.reason) for r in report.bad_rows] == [
        (6, "from '0xnot-an-address' is not an address")
    ]
    assert report.tables == {"erc20_transfers": len(lines) - 2, "native_transfers": 0}
    from_folder = detect([tmp_path / "data"], candidates)
    flagged = {
        a for a, f in zip(from_folder.addresses, from_folder.flagged.tolist(), strict=True) if f
    }
    assert flagged == farm
    with pytest.raises(InputError, match=r"line 6 of \S*edges.csv \(data row 4\)"):
        import_edges([edges], tmp_path / "strict", strict=True)


def test_train_once_score_later_also_new_candidates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sybil train` then `sybil score`: on the training candidates the scores are the model's
    on the training features (same inputs, same numbers); new candidates get a probability."""
    import csv

    import lightgbm as lgb

    from proofmind.cli.main import main

    edges, candidates, farm = planted(tmp_path)
    train_part = [a for i, a in enumerate(candidates) if i % 4 != 0]
    held_out = [a for i, a in enumerate(candidates) if i % 4 == 0]
    labelled = tmp_path / "labelled.csv"
    labelled.write_text(
        "address,is_sybil\n" + "".join(f"{a},{int(a in farm)}\n" for a in train_part)
    )
    assert main(["sybil", "train", str(edges), "--candidates", str(labelled),
                 "-o", str(tmp_path / "m")]) == 0  # fmt: skip
    assert "5-fold CV ROC-AUC" in capsys.readouterr().out
    model = lgb.Booster(model_file=str(tmp_path / "m" / "model.txt"))
    trained = detect([edges], train_part, labels=None)
    expected = model.predict(trained.features)

    assert main(["sybil", "score", str(edges), "--candidates", str(labelled),
                 "--model", str(tmp_path / "m"), "-o", str(tmp_path / "s.csv")]) == 0  # fmt: skip
    rows = list(csv.DictReader((tmp_path / "s.csv").open()))
    assert [r["address"] for r in rows] == train_part
    np.testing.assert_allclose([float(r["p_sybil"]) for r in rows], expected, atol=1e-6)

    new = tmp_path / "new.csv"
    new.write_text("address\n" + "".join(f"{a}\n" for a in held_out))
    assert main(["sybil", "score", str(edges), "--candidates", str(new),
                 "--model", str(tmp_path / "m"), "-o", str(tmp_path / "n.csv")]) == 0  # fmt: skip
    scored = {
        r["address"]: float(r["p_sybil"]) for r in csv.DictReader((tmp_path / "n.csv").open())
    }
    assert set(scored) == set(held_out)
    sybils = [p for a, p in scored.items() if a in farm]
    honest = [p for a, p in scored.items() if a not in farm]
    assert min(sybils) > max(honest)  # the unseen farm members rank above the unseen users


def test_grouped_folds_never_split_a_cluster() -> None:
    from proofmind.intel.sybil import grouped_folds

    rng = np.random.default_rng(0)
    groups = rng.integers(0, 40, 1000)
    folds = grouped_folds(groups, 5, seed=1)
    for g in np.unique(groups):
        assert len(set(folds[groups == g].tolist())) == 1
    sizes = np.bincount(folds, minlength=5)
    assert sizes.min() > 0.6 * sizes.max()  # balanced enough to evaluate on


def test_a_trained_sybil_model_is_registered_with_its_lineage(tmp_path: Path) -> None:
    from proofmind.cli.main import main
    from proofmind.provenance.ledger import Ledger
    from proofmind.workspace import init_workspace, open_workspace

    edges, candidates, farm = planted(tmp_path)
    labelled = tmp_path / "labelled.csv"
    labelled.write_text(
        "address,is_sybil\n" + "".join(f"{a},{int(a in farm)}\n" for a in candidates)
    )
    ws, _ = init_workspace(tmp_path / "project")
    ws.close()
    assert main(["sybil", "train", str(edges), "--candidates", str(labelled), "-o",
                 str(tmp_path / "m"), "--register", "-w", str(ws.root)]) == 0  # fmt: skip
    assert (tmp_path / "m" / "model.txt.card.json").is_file()
    ws = open_workspace(ws.root)
    ledger = Ledger(ws)
    models = [r for r in ledger.all() if r.kind_name == "model"]
    assert len(models) == 1
    kinds = sorted(r.kind_name for r in ledger.ancestors(models[0]))
    assert kinds == ["dataset", "dataset", "model", "run"]
    ws.close()


def test_threshold_for_a_false_positive_target() -> None:
    from proofmind.intel.sybil import fpr_threshold, wilson

    rng = np.random.default_rng(2)
    y = np.array([0] * 1000 + [1] * 200)
    score = np.concatenate([rng.uniform(0, 1, 1000), rng.uniform(0.5, 1, 200)])
    threshold = fpr_threshold(y, score, 0.02)
    assert np.sum(score[y == 0] >= threshold) == 20  # exactly the 2% allowed
    low, high = wilson(20, 1000)
    assert low < 0.02 < high and low > 0.01 and high < 0.035


@pytest.mark.parametrize("funded", [False, True])
def test_a_large_community_is_flagged_only_with_corroboration(tmp_path: Path, funded: bool) -> None:
    """Twelve friends who pay each other form a community big enough to flag; without a
    shared counterparty or a common start they are not flagged, with one funder they are."""
    friends = [addr(200 + i) for i in range(12)]
    edges = [(a, b) for i, a in enumerate(friends) for b in friends[i + 1 :]]
    if funded:
        edges += [(addr(7), f) for f in friends]
    path = tmp_path / "edges.csv"
    path.write_text("from,to\n" + "".join(f"{a},{b}\n" for a, b in edges))
    meta = {f: (100.0, 1_600_000_000 + i * 30 * 86_400) for i, f in enumerate(friends)}
    result = detect([path], friends, meta=meta, min_cluster=8)
    assert result.unsupervised.max() >= 8  # large enough by size alone
    assert bool(result.flagged.all()) is funded and bool(result.flagged.any()) is funded
    if funded:
        assert (
            "flagged because 12 of 12 transacted with one outside address"
            in result.clusters[0].evidence[0]
        )
