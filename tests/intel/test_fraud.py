"""Etherscan import, era-invariant features and the fraud classifier."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import duckdb
import numpy as np
import pytest

from proofmind.errors import InputError
from proofmind.intel.etherscan import connect, import_etherscan
from proofmind.intel.fraud import address_features, evaluate, read_labels, train, with_data

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "eth_fraud"
TX_HEADER = (
    "account,blockNumber,timeStamp,hash,nonce,blockHash,transactionIndex,from,to,value,gas,"
    "gasPrice,isError,txreceipt_status,input,contractAddress,cumulativeGasUsed,gasUsed,"
    "methodId,functionName"
)
TOKEN_HEADER = (
    "account,blockNumber,timeStamp,hash,nonce,blockHash,from,contractAddress,to,value,"
    "tokenName,tokenSymbol,tokenDecimal,transactionIndex,gas,gasPrice,gasUsed,"
    "cumulativeGasUsed,input"
)


def addr(n: int) -> str:
    return f"0x{n:040x}"


def synthetic(folder: Path, shift: int = 0, seed: int = 5) -> tuple[Path, Path, list[str]]:
    """Exports for 30 accounts; ``shift`` moves every timestamp by it and every block by
    shift // 12."""
    rng = random.Random(seed)
    accounts = [addr(1000 + i) for i in range(30)]
    tx_lines, token_lines = [TX_HEADER], [TOKEN_HEADER]
    for i, account in enumerate(accounts):
        t, block = 1_600_000_000 + rng.randrange(10**6), 11_000_000 + i * 1000
        for k in range(rng.randrange(3, 25)):
            t += rng.randrange(10, 200_000)
            block += rng.randrange(1, 500)
            out = rng.random() < 0.5
            peer = addr(rng.randrange(1, 60))
            src, dst = (account, peer) if out else (peer, account)
            value = rng.choice([0, 10**18, rng.randrange(10**15, 10**19)])
            tx_hash = f"0x{rng.getrandbits(256):064x}"
            tx_lines.append(
                f"{account},{block + shift // 12},{t + shift},{tx_hash},{k},0x{'ab' * 32},{k},"
                f"{src},{dst},{value},{rng.choice([21000, 60000])},{rng.randrange(1, 10**11)},"
                f"{int(rng.random() < 0.1)},1,{rng.choice(['0x', '0xa9059cbb00'])},,1,21000,0x,"
            )
            if rng.random() < 0.3:
                token_lines.append(
                    f"{account},{block + shift // 12},{t + shift},{tx_hash},{k},0x{'cd' * 32},"
                    f"{peer},{addr(7)},{account},{rng.choice([0, 5 * 10**20])},"
                    f"{rng.choice(['USDT', 'Visit claim-now.com'])},T,18,1,1,1,1,1,deprecated"
                )
    tx = folder / "txlist.csv.gz"
    tx.write_bytes(gzip.compress(("\n".join(tx_lines) + "\n").encode()))
    tokens = folder / "tokentx.csv"
    tokens.write_text("\n".join(token_lines) + "\n")
    return tx, tokens, accounts


def test_features_do_not_depend_on_when_the_accounts_were_active(tmp_path: Path) -> None:
    """Shift every timestamp by 3.2 years and every block to match: same features, same scores."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    tx_a, tok_a, accounts = synthetic(tmp_path / "a")
    tx_b, tok_b, _ = synthetic(tmp_path / "b", shift=100_000_000)
    import_etherscan([tx_a, tok_a], tmp_path / "a" / "data")
    import_etherscan([tx_b, tok_b], tmp_path / "b" / "data")
    fa = address_features(connect(tmp_path / "a" / "data"), accounts)
    fb = address_features(connect(tmp_path / "b" / "data"), accounts)
    np.testing.assert_array_equal(fa.matrix, fb.matrix)
    labels = np.array([i % 2 for i in range(len(accounts))])
    model = train(fa.matrix, labels, fa.names)
    np.testing.assert_array_equal(model.predict(fa.matrix), model.predict(fb.matrix))


def test_malformed_rows_are_named_and_left_out(tmp_path: Path) -> None:
    tx, tokens, _ = synthetic(tmp_path)
    lines = gzip.decompress(tx.read_bytes()).decode().splitlines()
    lines[3] = lines[3].split(",", 3)[0] + ",x,1"  # too few cells
    cells = lines[6].split(",")
    cells[2] = "soon"  # timeStamp not a number
    lines[6] = ",".join(cells)
    cells = lines[9].split(",")
    cells[7] = "0xnothex"  # from is not an address
    lines[9] = ",".join(cells)
    tx.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    report = import_etherscan([tx, tokens], tmp_path / "data")
    found = [(row.line, row.reason) for row in report.bad_rows]
    assert found[0][0] == 4 and "Expected Number of Columns" in found[0][1]
    assert (7, "timeStamp is not a number") in found
    assert (10, "from is not an address") in found
    assert report.tables["transactions"] == len(lines) - 1 - 3
    with pytest.raises(InputError, match=r"line 4 of \S*txlist.csv.gz \(data row 2\)"):
        import_etherscan([tx], tmp_path / "strict", strict=True)
    assert not (tmp_path / "strict").exists()


def test_a_file_that_is_not_an_export(tmp_path: Path) -> None:
    other = tmp_path / "x.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="neither an Etherscan txlist nor a tokentx export"):
        import_etherscan([other], tmp_path / "data")


@pytest.mark.skipif(
    not SHARED.is_dir(), reason="../shared/datasets/eth_fraud is not beside the repo"
)
def test_cross_validated_f1_on_eth_fraud(tmp_path: Path) -> None:
    report = import_etherscan(
        [SHARED / "transactions.csv.gz", SHARED / "token_transfers.csv.gz"], tmp_path / "data"
    )
    assert not report.bad_rows
    labels = read_labels(SHARED / "labels.csv")
    features = address_features(connect(tmp_path / "data"), list(labels))
    assert not {"timestamp", "block_number", "gas_price"} & set(features.names)
    result = evaluate(features, labels, folds=5, boot=200)
    with_history = with_data(connect(tmp_path / "data"), list(labels))
    assert result.addresses == len(with_history) < len(labels)  # no history: left out
    assert result.metrics["f1"].value >= 0.92, result.metrics


def test_a_trained_model_is_registered_with_its_lineage(tmp_path: Path) -> None:
    from proofmind.app.training import train_fraud_registered
    from proofmind.provenance.ledger import Ledger
    from proofmind.provenance.records import Kind
    from proofmind.workspace import init_workspace

    tx, tokens, accounts = synthetic(tmp_path)
    import_etherscan([tx, tokens], tmp_path / "data")
    labels = tmp_path / "labels.csv"
    labels.write_text("address,flag\n" + "".join(f"{a},{i % 2}\n" for i, a in enumerate(accounts)))
    ws, _ = init_workspace(tmp_path)
    record, report = train_fraud_registered(ws, tmp_path / "data", labels, tmp_path / "model.txt")
    assert record.kind == Kind.MODEL and (tmp_path / "model.txt.card.json").is_file()
    ledger = Ledger(ws)
    kinds = sorted(r.kind_name for r in ledger.ancestors(record))
    assert kinds == ["dataset", "dataset", "dataset", "model", "run"]
    assert set(report.metrics) == {"precision", "recall", "f1", "pr_auc"}
    ws.close()


def test_genesis_allocations_are_kept_as_inflows(tmp_path: Path) -> None:
    """Etherscan lists a genesis allocation as a row from "GENESIS" with hash
    "GENESIS_<account>": it is imported (no sender) and counts as received ether."""
    account = addr(4242)
    other = addr(77)
    tx = tmp_path / "txlist.csv"
    tx.write_text(
        TX_HEADER + "\n"
        f"{account},0,1438269973,GENESIS_{account[2:]},,,0,GENESIS,{account},"
        "200000000000000000000,0,0,0,,,,0,0,,\n"
        f"{account},100,1438300000,0x{'01' * 32},0,0x{'ab' * 32},0,{account},{other},"
        "50000000000000000000,21000,1,0,1,0x,,1,21000,0x,\n"
    )
    report = import_etherscan([tx], tmp_path / "data")
    assert report.tables["transactions"] == 2 and not report.bad_rows
    con = connect(tmp_path / "data")
    genesis = con.execute(
        "SELECT from_address, to_address, hash, value_wei, input FROM transactions "
        "WHERE block_number = 0"
    ).fetchall()
    assert genesis == [(None, account, f"genesis_{account[2:]}", 200 * 10**18, "0x")]
    features = address_features(con, [account])
    row = dict(zip(features.names, features.matrix[0], strict=True))
    assert row["n_tx"] == 2 and row["n_out"] == 1
    assert row["sum_in"] == 200.0 and row["sum_out"] == 50.0


@pytest.mark.parametrize("first_n", [1, 3, 5])
def test_early_warning_features_never_look_past_the_nth_transaction(
    tmp_path: Path, first_n: int
) -> None:
    """Features from each account's first N transactions equal the features of the same
    account computed on data that holds nothing later: its first N transactions and its token
    transfers up to the N-th."""
    tx, tokens, accounts = synthetic(tmp_path)
    import_etherscan([tx, tokens], tmp_path / "data")
    con = connect(tmp_path / "data")
    early = address_features(con, accounts, first_n)
    for k, account in enumerate(accounts[:8]):
        past = duckdb.connect()
        past.register("tx_all", con.execute("SELECT * FROM transactions").arrow().read_all())
        past.register("tok_all", con.execute("SELECT * FROM erc20_transfers").arrow().read_all())
        past.execute(
            "CREATE TABLE transactions AS SELECT * FROM tx_all "
            "WHERE from_address = $a OR to_address = $a "
            "ORDER BY timestamp, tx_index, hash LIMIT $n",
            {"a": account, "n": first_n},
        )
        past.execute(
            "CREATE TABLE erc20_transfers AS SELECT * FROM tok_all "
            "WHERE (from_address = $a OR to_address = $a) AND timestamp <= "
            "(SELECT CASE WHEN count(*) >= $n THEN max(timestamp) ELSE 9e18 END "
            "FROM transactions)",
            {"a": account, "n": first_n},
        )
        alone = address_features(past, [account])
        np.testing.assert_array_equal(alone.matrix[0], early.matrix[k])


def test_early_warning_curve_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from proofmind.cli.main import main

    tx, tokens, accounts = synthetic(tmp_path)
    import_etherscan([tx, tokens], tmp_path / "data")
    labels = tmp_path / "labels.csv"
    labels.write_text("address,flag\n" + "".join(f"{a},{i % 2}\n" for i, a in enumerate(accounts)))
    args = ["--labels", str(labels), "--data", str(tmp_path / "data"), "--folds", "2"]
    assert main(["fraud", "early-warning", *args, "--first-n", "3,1"]) == 0
    shown = capsys.readouterr().out
    assert shown.index("first 1 ") < shown.index("first 3 ") < shown.index("full history")


def test_features_in_batches_equal_one_query(tmp_path: Path) -> None:
    """`fraud score --out` on all addresses features them in batches of bounded rows: the
    same numbers, bit for bit, as one query over all of them, and every address with data
    (a genesis allocation's receiver, a self-transfer's sender) is found and counted once
    per row."""
    from proofmind.intel.fraud import address_rows, feature_batches

    tx, tokens, accounts = synthetic(tmp_path)
    account, genesis = accounts[0], addr(4242)
    extra = tmp_path / "extra.csv"
    extra.write_text(
        TX_HEADER + "\n"
        f"{genesis},0,1438269973,GENESIS_{genesis[2:]},,,0,GENESIS,{genesis},"
        "200000000000000000000,0,0,0,,,,0,0,,\n"
        f"{account},11000000,1600000001,0x{'12' * 32},99,0x{'ab' * 32},0,{account},{account},"
        "1000,21000,1,0,1,0x,,1,21000,0x,\n"
    )
    import_etherscan([tx, tokens, extra], tmp_path / "data")
    con = connect(tmp_path / "data")
    rows = address_rows(con, None)
    assert genesis in rows and list(rows) == sorted(rows)
    counted = con.execute(
        "SELECT count(*) FROM transactions WHERE from_address = ? OR to_address = ?",
        [account, account],
    ).fetchone()
    tokens_of = con.execute(
        "SELECT count(*) FROM erc20_transfers WHERE from_address = ? OR to_address = ?",
        [account, account],
    ).fetchone()
    assert counted is not None and tokens_of is not None
    assert rows[account] == counted[0] + tokens_of[0]
    whole = address_features(con, list(rows))
    batches = list(feature_batches(con, rows, batch_rows=40))
    assert len(batches) > 3
    assert [a for b in batches for a in b.addresses] == whole.addresses
    assert np.array_equal(np.vstack([b.matrix for b in batches]), whole.matrix, equal_nan=True)
    assert address_rows(con, [account.upper(), addr(999_999)]) == {account: rows[account]}


def _trained_on_synthetic(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """The synthetic exports ingested, and a model trained on them with `fraud train`: the
    data folder, the model file and the accounts."""
    from proofmind.cli.main import main

    tx, tokens, accounts = synthetic(tmp_path)
    data = tmp_path / "data"
    import_etherscan([tx, tokens], data)
    labels = tmp_path / "labels.csv"
    labels.write_text("address,flag\n" + "".join(f"{a},{i % 2}\n" for i, a in enumerate(accounts)))
    model = tmp_path / "m.txt"
    train = ["fraud", "train", "--data", str(data), "--labels", str(labels), "--output", str(model)]
    assert main(train) == 0
    return data, model, accounts


def test_cli_features_and_scores_of_every_address_in_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`fraud features --out` and `fraud score --out` on DuckDB, batch by batch: one row per
    address in address order, equal to one query's; an address asked for without data gets
    a row with null features / status "no data"."""
    import pyarrow.parquet as pq

    from proofmind.cli.main import main
    from proofmind.intel import fraud

    data, model, accounts = _trained_on_synthetic(tmp_path)
    monkeypatch.setattr(fraud, "BATCH_ROWS", 50)
    out = tmp_path / "f.parquet"
    assert main(["fraud", "features", "--data", str(data), "--out", str(out)]) == 0
    table = pq.read_table(out).to_pydict()
    everyone = list(fraud.address_rows(connect(data), None))
    whole = address_features(connect(data), everyone)
    assert table["address"] == whole.addresses == sorted(everyone)
    got = np.array([table[n] for n in whole.names], dtype=np.float64).T
    assert np.array_equal(got, whole.matrix, equal_nan=True)
    nobody = addr(999_999)
    assert (
        main(
            [
                "fraud",
                "features",
                accounts[1],
                nobody,
                accounts[1],
                "--data",
                str(data),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    table = pq.read_table(out).to_pydict()
    assert table["address"] == sorted([accounts[1], nobody])
    assert table["has_data"] == [a != nobody for a in table["address"]]
    # null, as Spark writes it, not NaN: every feature of the address without data
    row = table["address"].index(nobody)
    assert all(table[n][row] is None for n in whole.names)
    assert pq.read_table(out).column("n_tx").null_count == 1
    scores = tmp_path / "s.parquet"
    assert (
        main(["fraud", "score", "--data", str(data), "--model", str(model), "--out", str(scores)])
        == 0
    )
    scored = pq.read_table(scores).to_pydict()
    predicted = fraud.load_model(model).predict(whole.matrix)
    assert scored["address"] == whole.addresses and set(scored["status"]) == {"scored"}
    assert scored["score"] == [float(p) for p in predicted]
    # written batch by batch: one row group per batch, the memory held is one batch's
    assert pq.ParquetFile(scores).num_row_groups > 3
    # --batch-rows sizes the batches: smaller than the 50 rows above, the same features
    small = tmp_path / "small.parquet"
    features = ["fraud", "features", "--data", str(data), "--out", str(small)]
    assert main([*features, "--batch-rows", "20"]) == 0
    assert pq.ParquetFile(small).num_row_groups > pq.ParquetFile(scores).num_row_groups
    again = pq.read_table(small).to_pydict()
    assert np.array_equal(np.array([again[n] for n in whole.names], dtype=np.float64).T,
                          whole.matrix, equal_nan=True)  # fmt: skip
    wanted = [accounts[3], nobody, accounts[1], accounts[3]]
    command = ["fraud", "score", *wanted, "--data", str(data), "--model", str(model)]
    assert main([*command, "--out", str(scores)]) == 0
    some = pq.read_table(scores).to_pydict()
    assert some["address"] == sorted({accounts[1], accounts[3], nobody})
    expected = dict(zip(whole.addresses, (float(p) for p in predicted), strict=True))
    for address, status, score in zip(some["address"], some["status"], some["score"],
                                      strict=True):  # fmt: skip
        assert (status, score) == (
            ("no data", None) if address == nobody else ("scored", expected[address])
        )


def test_cli_scores_with_a_registered_model_only_as_registered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`fraud score --model KEY` scores with the ledger's model record, as the API's
    ?model= does: the same scores as the file, and refused once the file is not the one
    whose keccak-256 was registered."""
    from proofmind.app.training import train_fraud_registered
    from proofmind.cli.main import main
    from proofmind.workspace import init_workspace

    tx, tokens, accounts = synthetic(tmp_path)
    data = tmp_path / "data"
    import_etherscan([tx, tokens], data)
    labels = tmp_path / "labels.csv"
    labels.write_text("address,flag\n" + "".join(f"{a},{i % 2}\n" for i, a in enumerate(accounts)))
    ws, _ = init_workspace(tmp_path)
    model = tmp_path / "model.txt"
    record, _ = train_fraud_registered(ws, data, labels, model)
    ws.close()
    capsys.readouterr()
    common = [accounts[2], "--data", str(data), "--workspace", str(tmp_path)]
    assert main(["fraud", "score", *common, "--model", str(model)]) == 0
    by_file = capsys.readouterr().out
    assert main(["fraud", "score", *common, "--model", str(record.key)]) == 0
    assert capsys.readouterr().out == by_file and "scored" in by_file
    model.write_text(model.read_text().replace("learning_rate", "learning_rate ", 1))
    assert main(["fraud", "score", *common, "--model", str(record.key)]) == 1
    shown = capsys.readouterr()
    assert f"is not the model of record {record.key}" in shown.err and not shown.out
    assert main(["fraud", "score", *common, "--model", "12345"]) == 2
    assert "no record for '12345'" in capsys.readouterr().err


def test_cli_scores_out_is_written_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `fraud score --out` that fails after its first batch was written leaves the previous
    file as it was and no partial file beside it."""
    from collections.abc import Iterator

    from proofmind.cli import features as cli_features
    from proofmind.cli.main import main
    from proofmind.intel import fraud

    data, model, _ = _trained_on_synthetic(tmp_path)
    monkeypatch.setattr(fraud, "BATCH_ROWS", 50)
    out = tmp_path / "out" / "s.parquet"
    out.parent.mkdir()
    out.write_bytes(b"the previous scores")
    real = cli_features.featured

    def failing(*args: object) -> Iterator[fraud.Features]:
        batches = real(*args)  # type: ignore[arg-type]
        yield next(batches)
        raise InputError("the disk went away")

    monkeypatch.setattr(cli_features, "featured", failing)
    command = ["fraud", "score", "--data", str(data), "--model", str(model), "--out", str(out)]
    assert main(command) == 2
    assert out.read_bytes() == b"the previous scores"
    assert [p.name for p in out.parent.iterdir()] == ["s.parquet"]
