"""Fraud commands never answer confidently without data: an address absent from the data gets
"no data" instead of a score; missing data folders and labels that match nothing are errors."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from proofmind.cli.main import main
from proofmind.errors import InputError
from proofmind.intel.etherscan import connect, import_etherscan
from proofmind.intel.fraud import address_features, labelled, read_labels, train_model
from tests.intel.test_fraud import synthetic

ABSENT = "0x000000000000000000000000000000000000dead"


@pytest.fixture
def trained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str]]:
    tx, tokens, accounts = synthetic(tmp_path)
    (tmp_path / "labels.csv").write_text(
        "address,flag\n" + "".join(f"{a},{i % 2}\n" for i, a in enumerate(accounts))
    )
    import_etherscan([tx, tokens], tmp_path / "chaindata")
    labels = read_labels(tmp_path / "labels.csv")
    features = address_features(connect(tmp_path / "chaindata"), list(labels))
    train_model(features, labels, tmp_path / "model.txt")
    monkeypatch.chdir(tmp_path)
    return tmp_path, accounts


def test_an_address_without_data_is_not_scored(
    trained: tuple[Path, list[str]], capfd: pytest.CaptureFixture[str]
) -> None:
    _, accounts = trained
    code = main(
        ["fraud", "score", accounts[0], ABSENT, "--data", "chaindata", "--model", "model.txt"]
    )
    out, err = capfd.readouterr()
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["address"] for r in rows] == [accounts[0], ABSENT]
    assert rows[0]["status"] == "scored" and 0 <= float(rows[0]["score"]) <= 1
    assert rows[1]["status"] == "no data" and rows[1]["score"] == ""  # once 0.999991
    assert "1 of 2 address(es) have no data" in err


def test_a_csv_of_addresses_is_checked_like_arguments(
    trained: tuple[Path, list[str]], capfd: pytest.CaptureFixture[str]
) -> None:
    root, accounts = trained
    (root / "wanted.csv").write_text(f"address\n{accounts[1]}\n{ABSENT}\n")
    assert main(["fraud", "score", "wanted.csv", "--data", "chaindata"]) == 2  # no model here
    capfd.readouterr()
    code = main(["fraud", "score", "wanted.csv", "--data", "chaindata", "--model", "model.txt"])
    out, _ = capfd.readouterr()
    assert code == 0 and out.count("no data") == 1 and out.count("scored") == 1
    (root / "typo.csv").write_text("address\n0xAbcdef0123456789abcdef0123456789abcdef01\n")
    code = main(["fraud", "score", "typo.csv", "--data", "chaindata", "--model", "model.txt"])
    assert code == 2 and "line 2 of typo.csv" in capfd.readouterr().err


def test_evaluate_says_how_many_labels_matched(
    trained: tuple[Path, list[str]], capfd: pytest.CaptureFixture[str]
) -> None:
    root, accounts = trained
    extra = "".join(f"0x{n:040x},{n % 2}\n" for n in range(10**6, 10**6 + 5))
    (root / "more.csv").write_text((root / "labels.csv").read_text() + extra)
    code = main(["fraud", "train", "--labels", "more.csv", "--data", "chaindata", "-o", "m.txt"])
    out, err = capfd.readouterr()
    assert code == 0, err
    assert f"{len(accounts)} of {len(accounts) + 5} labelled addresses appear in chaindata" in out
    assert "the other 5 have no history there and are left out" in out
    assert f"Trained on {len(accounts)} addresses" in out  # not on 5 rows of empty features
    (root / "oneclass.csv").write_text(f"address,flag\n{accounts[0]},1\n{ABSENT},0\n")
    code = main(["fraud", "evaluate", "--labels", "oneclass.csv", "--data", "chaindata"])
    assert code == 2
    assert "only 1 of 2 labelled addresses appear in chaindata" in capfd.readouterr().err


def test_duplicate_rows_are_counted(tmp_path: Path) -> None:
    tx, tokens, _ = synthetic(tmp_path)
    once = import_etherscan([tx, tokens], tmp_path / "once")
    twice = import_etherscan([tx, tx, tokens, tokens], tmp_path / "twice")
    assert once.tables == twice.tables
    assert once.duplicates == {"transactions": 0, "erc20_transfers": 0}
    assert twice.duplicates == once.tables  # every row of the second copy was dropped


def test_labels_without_history_are_left_out_unless_an_older_run_kept_them(
    trained: tuple[Path, list[str]],
) -> None:
    from proofmind.intel.fraud import fit_params, run_params

    root, accounts = trained
    absent = [f"0x{n:040x}" for n in range(10**6, 10**6 + 4)]
    (root / "more.csv").write_text(
        (root / "labels.csv").read_text() + "".join(f"{a},1\n" for a in absent)
    )
    labels = read_labels(root / "more.csv")
    features = address_features(connect(root / "chaindata"), list(labels))
    assert len(features.addresses) == len(accounts) + 4  # an empty row for each absent one
    assert len(labelled(features, labels)[1]) == len(accounts)
    assert len(labelled(features, labels, no_history="kept")[1]) == len(accounts) + 4
    params = run_params(root / "chaindata", root / "more.csv", root / "m.txt", None)
    assert params["no_history"] == "left out"  # logged, so the run is trained again the same way
    (root / "new").mkdir()
    assert fit_params(params, root / "new").rows == len(accounts)
    older = {k: v for k, v in params.items() if k != "no_history"}  # logged before the rule
    (root / "old").mkdir()
    assert fit_params(older, root / "old").rows == len(accounts) + 4


def test_labels_are_read_as_spreadsheets_write_them_and_checked(tmp_path: Path) -> None:
    a, b = "0x" + "ab" * 20, "0x" + "cd" * 20
    upper = "0x" + a[2:].upper()  # all capitals carry no checksum: accepted
    excel = tmp_path / "excel.csv"  # a byte order mark, capitals, CRLF, a blank line
    excel.write_bytes(f"\ufeffAddress,Flag\r\n{upper},1\r\n\r\n{b},0\r\n".encode())
    assert read_labels(excel) == {a: 1, b: 0}
    typo = tmp_path / "typo.csv"
    typo.write_text(f"address,flag\n{a},1\n{b[:-1]},0\n")
    with pytest.raises(InputError, match=r"typo.csv, line 3: '0x(cd)+c' is not an address"):
        read_labels(typo)
    twice = tmp_path / "twice.csv"
    twice.write_text(f"address,flag\n{a},1\n{b},0\n{upper},0\n")
    with pytest.raises(InputError, match=r"line 4: 0x(ab)+ is labelled 0 here and 1 on line 2"):
        read_labels(twice)
    same = tmp_path / "same.csv"  # the same label twice is only a repeat
    same.write_text(f"address,flag\n{a},1\n{b},0\n{a},1\n")
    assert read_labels(same) == {a: 1, b: 0}
