"""Fraud scores through the API: the scores `proofmind fraud score` prints, as JSON; an
address without data is answered "no data", never scored and never an error."""

from __future__ import annotations

import csv
import io
import os
import shutil
from pathlib import Path

import pytest

from proofmind.app import fraud as fraud_app
from proofmind.app.apikeys import create_key
from proofmind.cli.main import main
from proofmind.client import ApiError
from proofmind.intel.etherscan import connect, import_etherscan
from proofmind.intel.fraud import address_features, read_labels, train_model
from proofmind.provenance import Ledger, register_model
from proofmind.workspace import Workspace
from tests.intel.test_fraud import synthetic

from .conftest import MakeApi

ABSENT = "0x000000000000000000000000000000000000dEaD"


@pytest.fixture
def accounts(ws: Workspace) -> list[str]:
    """A trained model and ingested tables at the CLI's default places in the project."""
    project = ws.root.parent
    tx, tokens, accounts = synthetic(project)
    (project / "labels.csv").write_text(
        "address,flag\n" + "".join(f"{a},{i % 2}\n" for i, a in enumerate(accounts))
    )
    import_etherscan([tx, tokens], project / "chaindata")
    labels = read_labels(project / "labels.csv")
    train_model(
        address_features(connect(project / "chaindata"), list(labels)),
        labels,
        project / "fraud-model.txt",
    )
    return accounts


def test_scores_are_the_cli_scores(
    ws: Workspace,
    accounts: list[str],
    make_api: MakeApi,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(ws.root.parent)
    assert main(["fraud", "score", *accounts[:3], ABSENT, "--explain", "2"]) == 0
    printed = list(csv.DictReader(io.StringIO(capfd.readouterr().out)))
    api, http = make_api()
    for row in printed:
        got = api.fraud_score(row["address"], explain=2)
        assert got["address"] == row["address"] and got["status"] == row["status"]
        if row["status"] == "scored":
            assert f"{got['score']:.6f}" == row["score"]
            assert len(got["explanation"]) == 2
    absent = api.fraud_score(ABSENT)  # any case: answered lower-case
    assert absent == {
        "address": ABSENT.lower(),
        "status": "no data",
        "score": None,
        "explanation": None,
    }
    assert http.get(f"/api/v1/fraud/scores/{ABSENT}").status_code == 200

    _, token = create_key(ws.state, "scorer")
    keyed, _ = make_api(api_key=token)
    batch = keyed.fraud_scores([accounts[0], ABSENT, accounts[0].upper().replace("0X", "0x")])
    assert [s["address"] for s in batch] == [accounts[0], ABSENT.lower()]  # each once, in order
    assert batch[0]["score"] == api.fraud_score(accounts[0])["score"]


def test_bad_input_is_refused(ws: Workspace, accounts: list[str], make_api: MakeApi) -> None:
    api, http = make_api()
    bad = http.get("/api/v1/fraud/scores/0x12zz")
    assert bad.status_code == 400
    assert bad.json()["detail"] == (
        "address '0x12zz' is not an address: it is not hex — give 0x followed by 40 hex digits "
        "(20 bytes)"
    )
    assert http.get("/api/v1/fraud/scores/%2E%2E%2Fx").status_code == 404  # no such route
    assert http.get("/api/v1/fraud/scores/%2E%2E").status_code == 400
    with pytest.raises(ApiError) as keyless:  # a batch needs a key
        api.fraud_scores([accounts[0]])
    assert keyless.value.status == 401
    _, token = create_key(ws.state, "scorer")
    auth = {"Authorization": f"Bearer {token}"}
    wrong = http.post(
        "/api/v1/fraud/scores",
        json={"addresses": [accounts[0]]},
        headers={"Authorization": "Bearer pmk_nope"},
    )
    assert wrong.status_code == 401
    malformed = http.post(
        "/api/v1/fraud/scores",
        content=b'{"addresses": [',
        headers=auth | {"Content-Type": "application/json"},
    )
    assert malformed.status_code == 400 and malformed.json()["type"].endswith("malformed-json")
    form = http.post("/api/v1/fraud/scores", data={"addresses": accounts[0]}, headers=auth)
    assert form.status_code == 415
    too_many = http.post(
        "/api/v1/fraud/scores", json={"addresses": [accounts[0]] * 1001}, headers=auth
    )
    assert too_many.status_code == 422
    one_bad = http.post(
        "/api/v1/fraud/scores", json={"addresses": [accounts[0], "0xabc"]}, headers=auth
    )
    assert one_bad.status_code == 400 and "'0xabc' is not an address" in one_bad.json()["detail"]


def test_without_a_model_the_service_says_what_to_do(
    ws: Workspace, accounts: list[str], make_api: MakeApi
) -> None:
    project = ws.root.parent
    (project / "models").mkdir()
    (project / "fraud-model.txt").rename(project / "models" / "fraud-v2.txt")
    _, http = make_api()
    missing = http.get(f"/api/v1/fraud/scores/{accounts[0]}")
    assert missing.status_code == 503  # the service's set-up lacks the model: not a bug
    assert missing.json()["detail"].startswith(f"no fraud model at {project / 'fraud-model.txt'}")
    assert "fraud_model" in missing.json()["detail"]
    status = http.get("/api/v1/fraud/model").json()  # what the dashboard asks first
    assert status["configured"] is False and status["model"] is None
    assert status["problem"] == missing.json()["detail"]
    configured, http = make_api(fraud_model=Path("models/fraud-v2.txt"))
    assert configured.fraud_score(accounts[0])["status"] == "scored"
    assert http.get("/api/v1/fraud/model").json() == {
        "configured": True,
        "model": "models/fraud-v2.txt",
        "problem": None,
    }
    no_data, _ = make_api(fraud_model=Path("models/fraud-v2.txt"), fraud_data=Path("nowhere"))
    with pytest.raises(ApiError) as gone:
        no_data.fraud_score(accounts[0])
    assert gone.value.status == 503 and "no ingested data at" in str(gone.value)


def _cli_scores(argv: list[str], capfd: pytest.CaptureFixture[str]) -> dict[str, str]:
    assert main(["fraud", "score", *argv]) == 0
    return {r["address"]: r["score"] for r in csv.DictReader(io.StringIO(capfd.readouterr().out))}


def test_scores_with_a_registered_model_checked_against_its_record(
    ws: Workspace,
    accounts: list[str],
    make_api: MakeApi,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """?model=KEY|0xID scores with a model of the ledger, used only while its file hashes to
    the record's keccak-256; the configured model file is not needed for it."""
    project = ws.root.parent
    monkeypatch.chdir(project)
    (project / "models").mkdir()
    (project / "labels2.csv").write_text(  # other labels: another model than fraud-model.txt
        "address,flag\n" + "".join(f"{a},{int(i % 3 == 0)}\n" for i, a in enumerate(accounts))
    )
    argv = ["--data", "chaindata", "--labels", "labels2.csv", "-o", "models/registered.txt"]
    assert main(["fraud", "train", *argv, "--register"]) == 0
    capfd.readouterr()
    records = Ledger(ws).all()
    model = next(r for r in records if r.kind_name == "model")
    dataset = next(r for r in records if r.kind_name == "dataset")
    cli = _cli_scores([*accounts[:4], "--model", "models/registered.txt"], capfd)
    assert cli != _cli_scores(accounts[:4], capfd)

    api, http = make_api(fraud_model=Path("no-such-model.txt"))  # the setting is not used
    for ref in (model.key, model.content_hash):
        for address in accounts[:4]:
            got = api.fraud_score(address, model=ref)
            assert f"{got['score']:.6f}" == cli[address]
    _, token = create_key(ws.state, "scorer")
    keyed, _ = make_api(api_key=token)
    batch = keyed.fraud_scores(accounts[:4], model=model.key)
    assert [f"{s['score']:.6f}" for s in batch] == [cli[a] for a in accounts[:4]]
    with pytest.raises(ApiError) as unset:  # without ?model= the setting still applies
        api.fraud_score(accounts[0])
    assert unset.value.status == 503 and "no fraud model at" in str(unset.value)

    url = f"/api/v1/fraud/scores/{accounts[0]}"
    wrong_kind = http.get(url, params={"model": dataset.key})
    assert wrong_kind.status_code == 404
    assert wrong_kind.json()["detail"] == f"record '{dataset.key}' is a dataset, not a model"
    assert http.get(url, params={"model": "999"}).status_code == 404
    traversal = http.get(url, params={"model": "../fraud-model.txt"})
    assert traversal.status_code == 400 and "is not a record key or id" in traversal.text
    other = project / "models" / "weights.npz"  # a model record, but not a LightGBM model
    other.write_bytes(b"PK\x03\x04 not a booster")
    not_lgb = http.get(url, params={"model": register_model(ws, other).key})
    assert not_lgb.status_code == 400
    assert not_lgb.json()["detail"] == (
        f"{other} is not a LightGBM text model — give a model written by `proofmind fraud train`"
    )

    path = project / "models" / "registered.txt"
    original = path.read_bytes()
    path.write_bytes(original.replace(b"tree", b"tree\n", 1))  # one byte more
    changed = http.get(url, params={"model": model.key})
    assert changed.status_code == 409
    assert changed.headers["content-type"] == "application/problem+json"
    detail = changed.json()["detail"]
    assert detail.startswith(
        f"model {path} is not the model of record {model.key} (its keccak-256 is 0x"
    )
    assert f"the record's {model.content_hash})" in detail and "proofmind verify" in detail
    path.rename(path.with_suffix(".moved"))
    gone = http.get(url, params={"model": model.key})
    assert gone.status_code == 409 and gone.json()["detail"].startswith(f"no model at {path}")
    path.with_suffix(".moved").rename(path)
    path.write_bytes(original)  # restored: used again
    assert f"{api.fraud_score(accounts[0], model=model.key)['score']:.6f}" == cli[accounts[0]]
    assert len(Ledger(ws).all()) == len(records) + 1  # scoring wrote nothing


def test_the_tables_stay_loaded_until_the_data_changes(
    ws: Workspace,
    accounts: list[str],
    make_api: MakeApi,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The service keeps the tables (and the features it computed) in memory; new data in
    the folder is seen by the next call, scored as the CLI scores it."""
    project = ws.root.parent
    monkeypatch.chdir(project)
    data = project / "chaindata"
    api, _ = make_api()
    before = {a: api.fraud_score(a)["score"] for a in accounts[:3]}
    loaded = fraud_app._tables(data)
    assert fraud_app._tables(data) is loaded  # nothing changed: the same tables
    assert api.fraud_score(accounts[0])["score"] == before[accounts[0]]
    assert fraud_app._tables(data) is loaded

    # other exports of the same accounts replace the tables: new files, new features
    shutil.rmtree(data)
    (project / "v2").mkdir()
    tx, tokens, _ = synthetic(project / "v2", seed=9)
    import_etherscan([tx, tokens], data)
    stamp = loaded.stamp
    after = {a: api.fraud_score(a) for a in accounts[:3]}
    assert fraud_app._tables(data).stamp != stamp  # the files' change applied
    cli = _cli_scores(accounts[:3], capfd)
    assert {a: f"{s['score']:.6f}" for a, s in after.items()} == cli
    assert {a: s["score"] for a, s in after.items()} != before

    stamp = fraud_app._tables(data).stamp
    touched = next(data.glob("transactions/**/*.parquet"))
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    assert fraud_app._tables(data).stamp != stamp  # a file written again: read again
    assert api.fraud_score(accounts[0])["score"] == after[accounts[0]]["score"]


def test_tables_are_loaded_while_an_ingestion_merges_their_files(tmp_path: Path) -> None:
    """An ingestion following the chain into the folder the service scores over merges its
    Parquet parts as it goes; loading the tables while a part goes away reads the folder
    again instead of failing (DuckDB lists a table's files, then opens them)."""
    import threading
    import time

    from proofmind.intel.ingest._mapper import TABLES
    from proofmind.intel.ingest._tables import compact, write_range

    data = tmp_path / "chaindata"
    stop = threading.Event()
    committed = [0]

    def follow() -> None:  # a follower on a fast chain: a block a commit, merged by 16
        n = 0
        while not stop.is_set():
            rows = {t: [{"block_number": n, "hash": f"0x{n:064x}"}] * 50 for t in TABLES}
            write_range(data, n, n, rows)
            compact(data, n)
            committed[0] = n = n + 1

    follow_thread = threading.Thread(target=follow, daemon=True)
    follow_thread.start()
    try:
        while committed[0] < 20:
            time.sleep(0.01)
        loads = 0
        while loads < 30 or committed[0] < 100:  # loads meet a merge every 16 commits
            fraud_app.clear_tables()
            tables = fraud_app._tables(data)
            rows = tables.con.execute("SELECT count(*) FROM transactions").fetchone()
            assert rows is not None and rows[0] % 50 == 0 and rows[0] > 0  # whole blocks
            assert fraud_app._features_once(data, [ABSENT.lower()], None) == ([], {})  # CLI's
            loads += 1
    finally:
        stop.set()
        follow_thread.join()
        fraud_app.clear_tables()


def test_a_followed_folder_is_applied_file_by_file(tmp_path: Path) -> None:
    """Blocks appended and parts merged by an ingestion update the loaded tables in place
    (the rows of the files that changed), to exactly what loading the folder afresh gives;
    only the features of the addresses in those rows are computed again."""
    import numpy as np

    from proofmind.intel.ingest._mapper import TABLES
    from proofmind.intel.ingest._tables import compact, undo_from, write_range

    data = tmp_path / "chaindata"
    sender, receiver, early = "0x" + "a1" * 20, "0x" + "b2" * 20, "0x" + "c3" * 20

    def commit(n: int) -> None:
        rows: dict[str, list[dict[str, object]]] = {t: [] for t in TABLES}
        rows["transactions"] = [
            {"block_number": n, "hash": f"0x{n:064x}", "tx_index": 0, "from_address": sender,
             "to_address": early if n == 0 else receiver, "value_wei": 10**15 * n, "status": 1}
        ]  # fmt: skip
        write_range(data, n, n, rows)
        compact(data, n)

    def table(tables: fraud_app._Tables) -> list[tuple]:
        return tables.con.execute("SELECT * FROM transactions ORDER BY block_number").fetchall()

    for n in range(16):  # one part of blocks 0-15
        commit(n)
    loaded = fraud_app._tables(data)
    _, first = loaded.features([sender, early], None)
    for n in range(16, 40):  # 24 more blocks: 16-31 merged, 32-39 single
        commit(n)
    undo_from(data, 35)  # and a reorg cuts the last five
    tables = fraud_app._tables(data)
    assert tables is loaded  # updated in place, not loaded again
    assert (None, early) in tables.memo and (None, sender) not in tables.memo
    fresh = fraud_app._Tables(data.resolve(), fraud_app.data_stamp(data.resolve()))
    assert table(tables) == table(fresh) and len(table(tables)) == 35
    _, now = tables.features([sender, early], None)
    _, anew = fresh.features([sender, early], None)
    for address in (sender, early):
        assert np.array_equal(now[address], anew[address], equal_nan=True)
    assert not np.array_equal(now[sender], first[sender], equal_nan=True)
    fraud_app.clear_tables()


def test_tables_churned_more_than_their_size_are_loaded_afresh(tmp_path: Path) -> None:
    """Merges remove rows and add them again; DuckDB keeps a removed row's memory for a
    while, so once more rows were removed than were loaded, the folder is read afresh."""
    from proofmind.intel.ingest._mapper import TABLES
    from proofmind.intel.ingest._tables import compact, write_range

    data = tmp_path / "chaindata"
    for n in range(16):
        write_range(data, n, n, {t: [{"block_number": n, "hash": f"0x{n:064x}"}] for t in TABLES})
        if n == 14:
            loaded = fraud_app._tables(data)  # 15 rows, a part each
        compact(data, n)  # at block 15: the 16 parts merged into one
    assert fraud_app._tables(data) is loaded  # 15 rows removed, 16 added: applied
    merged = next(data.glob("transactions/*/*.parquet"))
    os.utime(merged, ns=(merged.stat().st_atime_ns, merged.stat().st_mtime_ns + 10**9))
    again = fraud_app._tables(data)  # its 16 rows removed too: 31 removed of 15 loaded
    assert again is not loaded and again.removed == 0
    assert again.con.execute("SELECT count(*) FROM transactions").fetchone() == (16,)
    fraud_app.clear_tables()
