"""Training is reproducible: the same data give the same features, models and scores, bit for
bit, whatever the thread counts; `verify --reproduce` trains a registered run again and says
whether the model comes out the same."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from proofmind.intel import fraud
from proofmind.intel.etherscan import connect, import_etherscan
from proofmind.intel.fraud import address_features, read_labels
from proofmind.provenance.reproduce import reproduce_run
from proofmind.workspace import Workspace, init_workspace

from .test_fraud import SHARED, TX_HEADER, addr, synthetic
from .test_sybil import planted


def busy_accounts(folder: Path, n: int = 400, seed: int = 11) -> tuple[Path, Path]:
    """An Etherscan txlist of ``n`` accounts with up to 400 transactions each (enough rows for
    DuckDB to aggregate in parallel), many in the same second, and their labels."""
    rng = random.Random(seed)
    accounts = [addr(1000 + i) for i in range(n)]
    lines = [TX_HEADER]
    for i, account in enumerate(accounts):
        t, block = 1_600_000_000 + rng.randrange(10**6), 11_000_000 + i * 1000
        for k in range(rng.randrange(3, 400)):
            t += rng.choice([0, 0, rng.randrange(1, 20_000)])  # same-block neighbours
            block += rng.randrange(0, 3)
            out = rng.random() < 0.5
            peer = addr(rng.randrange(1, 600))
            src, dst = (account, peer) if out else (peer, account)
            value = rng.choice([0, 10**18, rng.randrange(10**15, 10**22)])
            lines.append(
                f"{account},{block},{t},0x{rng.getrandbits(256):064x},{k},0x{'ab' * 32},{k % 7},"
                f"{src},{dst},{value},{rng.choice([21000, 60000])},{rng.randrange(1, 10**11)},"
                f"{int(rng.random() < 0.1)},1,{rng.choice(['0x', '0xa9059cbb00'])},,1,"
                f"{rng.randrange(21000, 60000)},0x,"
            )
    tx = folder / "txlist.csv"
    tx.write_text("\n".join(lines) + "\n")
    labels = folder / "labels.csv"
    labels.write_text(
        "address,flag\n" + "".join(f"{a},{int(i % 3 == 0)}\n" for i, a in enumerate(accounts))
    )
    return tx, labels


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(data folder, labels) of busy_accounts, imported once."""
    folder = tmp_path_factory.mktemp("busy")
    tx, labels = busy_accounts(folder)
    import_etherscan([tx], folder / "data")
    return folder / "data", labels


def features_with_threads(data: Path, labels: Path, threads: int) -> fraud.Features:
    con = connect(data)
    con.execute(f"SET threads = {threads}")
    return address_features(con, list(read_labels(labels)))


def test_features_are_the_same_whatever_the_number_of_duckdb_threads(
    busy: tuple[Path, Path],
) -> None:
    """Parallel sums used to add in whatever order the threads delivered: the last digits of
    amount and gas features changed from run to run."""
    one = features_with_threads(*busy, threads=1)
    for _ in range(2):
        four = features_with_threads(*busy, threads=4)
        assert one.names == four.names
        assert one.matrix.tobytes() == four.matrix.tobytes()  # bit for bit, NaNs included


@pytest.mark.skipif(
    not SHARED.is_dir(), reason="../shared/datasets/eth_fraud is not beside the repo"
)
def test_eth_fraud_features_are_the_same_whatever_the_number_of_threads(tmp_path: Path) -> None:
    import_etherscan(
        [SHARED / "transactions.csv.gz", SHARED / "token_transfers.csv.gz"], tmp_path / "data"
    )
    one = features_with_threads(tmp_path / "data", SHARED / "labels.csv", threads=1)
    four = features_with_threads(tmp_path / "data", SHARED / "labels.csv", threads=4)
    assert one.matrix.tobytes() == four.matrix.tobytes()


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROOFMIND_")}
    return subprocess.run(
        [sys.executable, "-m", "proofmind", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**env, "COLUMNS": "250"},
    )


def test_fraud_train_twice_writes_the_same_model_and_mlp(
    tmp_path: Path, busy: tuple[Path, Path]
) -> None:
    data, labels = busy
    outputs = []
    for n in (1, 2):
        out = tmp_path / f"run{n}"
        out.mkdir()
        done = cli(
            "fraud", "train", "--data", str(data), "--labels", str(labels),
            "-o", str(out / "model.txt"), "--mlp-onnx", str(out / "mlp.onnx"),
            cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        outputs.append([(out / name).read_bytes() for name in FILES])
    for name, first, second in zip(FILES, *outputs, strict=True):
        assert first == second, f"{name} differs between two runs"


FILES = ("model.txt", "mlp.onnx", "mlp.calibration.csv")


def test_the_mlp_does_not_depend_on_the_blas_thread_count() -> None:
    from threadpoolctl import threadpool_limits

    from proofmind.intel.fraud_onnx import train_mlp

    rng = np.random.default_rng(5)
    x = np.abs(rng.normal(0, 1, (2000, 43))) * rng.choice([1, 10, 1000], 43)
    y = ((np.log1p(x[:, 0]) - np.log1p(x[:, 3]) + rng.normal(0, 0.3, 2000)) > 0).astype(np.int64)
    weights = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            mlp = train_mlp(x, y, epochs=100)
        weights.append(b"".join(w.tobytes() for w in (mlp.w1, mlp.b1, mlp.w2, mlp.b2)))
    assert weights[0] == weights[1]


def test_sybil_detect_twice_writes_the_same_scores(tmp_path: Path) -> None:
    edges, candidates, farm = planted(tmp_path)
    rows = ["address,is_sybil", *(f"{a},{int(a in farm)}" for a in candidates)]
    (tmp_path / "candidates.csv").write_text("\n".join(rows) + "\n")
    written = []
    for n in (1, 2):
        done = cli(
            "sybil", "detect", str(edges), "--candidates", "candidates.csv", "--labels",
            "-o", f"out{n}",
            cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        written.append([(tmp_path / f"out{n}" / f).read_bytes() for f in SYBIL_FILES])
    assert written[0] == written[1]
    assert b"0." in written[0][0]  # the supervised stage ran: scores are in the file


SYBIL_FILES = ("scores.csv", "report.md", "flagged.txt")


# --------------------------------------------------------------------------- verify --reproduce


@pytest.fixture
def registered(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A workspace in ``tmp_path`` with a registered `fraud train` run: (data, labels, model)."""
    tx, tokens, accounts = synthetic(tmp_path)
    import_etherscan([tx, tokens], tmp_path / "data")
    labels = tmp_path / "labels.csv"
    labels.write_text("address,flag\n" + "".join(f"{a},{i % 2}\n" for i, a in enumerate(accounts)))
    ws, _ = init_workspace(tmp_path)
    ws.close()
    done = cli(
        "fraud", "train", "--data", "data", "--labels", "labels.csv", "-o", "model.txt",
        "--mlp-onnx", "mlp.onnx", "--register",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return tmp_path / "data", labels, tmp_path / "model.txt"


def test_verify_reproduce_matches_an_untouched_run(registered: tuple[Path, Path, Path]) -> None:
    model = registered[2]
    done = cli("verify", "--reproduce", "model.txt", cwd=model.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reproduced" in done.stdout
    for name in ("model.txt", "mlp.onnx", "mlp.calibration.csv", "metrics: f1"):
        assert f"SAME     {name}" in done.stdout, done.stdout
    run_folder = next((model.parent / ".proofmind" / "runs").iterdir())
    by_folder = cli("verify", "--reproduce", str(run_folder), "--json", cwd=model.parent)
    assert by_folder.returncode == 0 and '"reproduced": true' in by_folder.stdout


def test_verify_reproduce_reports_a_changed_model_file(
    registered: tuple[Path, Path, Path],
) -> None:
    model = registered[2]
    model.write_bytes(model.read_bytes() + b"\n")
    done = cli("verify", "--reproduce", "model.txt", cwd=model.parent)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "model.txt at" in done.stdout and "changed after the run" in done.stdout
    assert "not reproduced" in done.stdout


def test_verify_reproduce_reports_changed_data(registered: tuple[Path, Path, Path]) -> None:
    _, labels, model = registered
    lines = labels.read_text().splitlines()
    lines[1] = lines[1][:-1] + ("0" if lines[1].endswith("1") else "1")
    labels.write_text("\n".join(lines) + "\n")
    done = cli("verify", "--reproduce", "model.txt", cwd=model.parent)
    assert done.returncode == 1
    assert "dataset labels changed since the run" in done.stdout, done.stdout
    assert "not trained again" in done.stdout


def test_verify_reproduce_reports_params_that_did_not_make_the_model(tmp_path: Path) -> None:
    """A run whose log claims other parameters than the ones that trained its model."""
    from proofmind.app.provenance import track_run
    from proofmind.provenance.api import register_model

    tx, tokens, accounts = synthetic(tmp_path)
    import_etherscan([tx, tokens], tmp_path / "data")
    labels = tmp_path / "labels.csv"
    labels.write_text("address,flag\n" + "".join(f"{a},{i % 2}\n" for i, a in enumerate(accounts)))
    ws, _ = init_workspace(tmp_path)
    model, data = tmp_path / "model.txt", tmp_path / "data"
    datasets = [*fraud.data_tables(data), labels]
    with track_run(fraud.TRAINER, datasets=datasets, workspace=ws, anchor=False) as run:
        features = address_features(connect(data), list(read_labels(labels)))
        fraud.train_model(features, read_labels(labels), model)  # with the defaults
        claimed = {**fraud.run_params(data, labels, model, None), "learning_rate": 0.1}
        run.log_params(claimed, features=features.names)
        run.log_artifact(model)
    register_model(ws, model, run=run)
    ws.close()
    done = cli("verify", "--reproduce", "model.txt", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "model.txt comes out different" in done.stdout, done.stdout
    assert "(from line 10 on: 'tree_sizes=" in done.stdout  # where the bytes part


def test_verify_reproduce_says_when_the_code_is_another_version(
    registered: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another code version may give the same bytes, but that is no reproduction of the run."""
    from proofmind.provenance import reproduce
    from proofmind.workspace import open_workspace

    real = reproduce.package_fingerprint()
    monkeypatch.setattr(
        reproduce,
        "package_fingerprint",
        lambda: {"version": "0.2.0", "source_keccak": "0x" + "ab" * 32},
    )
    ws: Workspace = open_workspace(registered[2].parent)
    result = reproduce_run(ws, registered[2], {fraud.TRAINER: fraud.retrain})
    ws.close()
    assert not result.ok
    assert any(
        "the code differs from the version that trained the run" in p for p in result.problems
    )
    assert real["source_keccak"][:14] in " ".join(result.problems)
    assert any(s.startswith("model.txt: keccak") for s in result.same)  # bytes still compared


def test_verify_reproduce_refuses_a_run_it_cannot_train(tmp_path: Path) -> None:
    from proofmind.app.provenance import track_run

    (tmp_path / "d.csv").write_text("a,b\n1,2\n")
    ws, _ = init_workspace(tmp_path)
    with track_run("mine", datasets=[tmp_path / "d.csv"], workspace=ws, anchor=False) as run:
        run.log_params(lr=0.1)
    ws.close()
    done = cli("verify", "--reproduce", str(run.directory), cwd=tmp_path)
    assert done.returncode == 2
    assert "did not log a trainer proofmind can run again" in done.stderr
