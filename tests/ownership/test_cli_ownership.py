"""data and rewards from the command line, as a contributor and a curator use them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from proofmind.workspace import open_workspace
from tests.test_cli import assert_one_line_error, run

pytestmark = pytest.mark.devnet


def write(path: Path, n: int, flip: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = (x[:, 0] > 0).astype(int)
    y = 1 - y if flip else y
    path.write_text(
        "x1,x2,label\n" + "".join(f"{a:.5f},{b:.5f},{c}\n" for (a, b), c in zip(x, y, strict=True))
    )


def test_contribute_assemble_value_publish_claim(tmp_path: Path) -> None:
    assert run("init", cwd=tmp_path).returncode == 0
    try:
        assert run("contracts", "deploy", cwd=tmp_path).returncode == 0
        for seed, (name, flip) in enumerate([("alice", False), ("bob", False), ("carol", True)]):
            write(tmp_path / f"{name}.csv", 30, flip, seed)
            signed = run(
                "data",
                "contribute",
                f"{name}.csv",
                "--dataset",
                "demo",
                "--account",
                str(seed + 1),
                cwd=tmp_path,
            )
            assert signed.returncode == 0, signed.stderr
        kept = (tmp_path / "alice.csv.contribution.json").read_text()
        write(tmp_path / "rows[v2].csv", 5, False, 9)  # names with brackets are printed whole
        bracketed = run("data", "contribute", "rows[v2].csv", "--dataset", "demo", "--licence",
                        "[custom] terms", "--account", "5", cwd=tmp_path)  # fmt: skip
        assert "5 rows of rows[v2].csv" in bracketed.stdout, bracketed.stderr
        assert "licence [custom] terms" in bracketed.stdout
        assert "wrote rows[v2].csv.contribution.json" in bracketed.stdout
        assert_one_line_error(  # signed again: the first file is what revokes its consent
            run("data", "contribute", "alice.csv", "--dataset", "demo", cwd=tmp_path),
            "alice.csv.contribution.json holds contribution 0x",
            "-o",
        )
        assert (tmp_path / "alice.csv.contribution.json").read_text() == kept
        write(tmp_path / "test.csv", 40, False, 9)
        files = [f"{n}.csv.contribution.json" for n in ("alice", "bob", "carol")]
        assembled = run(
            "data", "assemble", *files, "--dataset", "demo", "-o", "all.csv", cwd=tmp_path
        )
        assert assembled.returncode == 0, assembled.stderr
        assert "Assembled 90 rows" in assembled.stdout
        again = run("data", "assemble", *files, "--dataset", "demo", "-o", "all.csv", cwd=tmp_path)
        assert again.returncode == 0, again.stderr  # the same rows over their own file: fine
        valued = run(
            "rewards",
            "value",
            "all.csv",
            "--test",
            "test.csv",
            "--features",
            "x1,x2",
            "--label",
            "label",
            cwd=tmp_path,
            env={"COLUMNS": "80"},
        )
        assert valued.returncode == 0, valued.stderr
        digest = re.search(r"valuation (0x[0-9a-f]{64})", valued.stdout)
        assert digest is not None
        assert "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC" in valued.stdout  # bob, whole
        pool = str(10**21)  # 1,000 tokens of 18 decimals: wider than a narrow terminal's column
        published = run(
            "rewards", "publish", digest.group(1), "--pool", pool, "--mint", cwd=tmp_path
        )
        assert published.returncode == 0, published.stderr
        bob = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"  # devnet account 2
        tree = json.loads((tmp_path / ".proofmind/rewards/epoch-31337-0.json").read_text())
        owed = next(int(v["value"][1]) for v in tree["values"] if v["value"][0] == bob)
        claimed = run("rewards", "claim", "--epoch", "0", "--account", bob, cwd=tmp_path)
        assert claimed.returncode == 0, claimed.stderr
        assert f"paid {owed} base units" in claimed.stdout
        assert_one_line_error(  # refused before sending, in words
            run("rewards", "claim", "--epoch", "0", "--account", bob, cwd=tmp_path),
            f"{bob}'s payout of epoch 0 ({owed} base units) was claimed already",
        )
        status = run("rewards", "status", cwd=tmp_path, env={"COLUMNS": "80"})
        assert pool in status.stdout and str(owed) in status.stdout  # not cut to "100000…"
        twice = ("rewards", "publish", digest.group(1), "--pool", "1000", "--mint")
        supply = run("contracts", "call", "RewardToken", "totalSupply", cwd=tmp_path).stdout
        assert_one_line_error(run(*twice, cwd=tmp_path), "is paid already by epoch 0", "--again")
        assert run("contracts", "call", "RewardToken", "totalSupply", cwd=tmp_path).stdout == (
            supply  # refused before anything was minted
        )
        again = run(*twice, "--again", cwd=tmp_path)  # another round, on purpose
        assert again.returncode == 0, again.stderr
        assert "Published epoch 1:" in again.stdout
        assert (tmp_path / ".proofmind/rewards/epoch-31337-1.json").is_file()
        # after the claim window the curator takes back what is left, once
        assert_one_line_error(
            run("rewards", "sweep", "--epoch", "0", cwd=tmp_path), "open for claims until"
        )
        workspace = open_workspace(tmp_path)
        try:
            provider = workspace.connect().w3.provider
            provider.make_request("evm_increaseTime", [400 * 86_400])  # type: ignore[arg-type]
            provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        finally:
            workspace.close()
        alice = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # devnet account 1, not claimed
        assert_one_line_error(
            run("rewards", "claim", "--epoch", "0", "--account", alice, cwd=tmp_path),
            "epoch 0's claims closed at",
            "rewards sweep",
        )
        swept = run("rewards", "sweep", "--epoch", "0", cwd=tmp_path)
        assert swept.returncode == 0, swept.stderr
        assert f"Swept epoch 0: {10**21 - owed} unclaimed base units to 0x" in swept.stdout
        assert_one_line_error(run("rewards", "sweep", "--epoch", "0", cwd=tmp_path), "already")

        assert (
            run(
                "data", "revoke", "carol.csv.contribution.json", "--account", "3", cwd=tmp_path
            ).returncode
            == 0
        )
        assert_one_line_error(
            run("data", "assemble", *files, "--dataset", "demo", "-o", "again.csv", cwd=tmp_path),
            "was revoked on-chain",
        )
        before = (tmp_path / "all.csv").read_bytes()
        without_carol = ("data", "assemble", *files[:2], "--dataset", "demo")
        assert_one_line_error(  # over the file an epoch was paid by: refused
            run(*without_carol, "-o", "all.csv", cwd=tmp_path),
            "all.csv is the data of dataset record",
            "move all.csv aside first",
        )
        assert (tmp_path / "all.csv").read_bytes() == before
        assert not list(tmp_path.glob(".assembling-*"))
        fresh = run(*without_carol, "-o", "all-v2.csv", cwd=tmp_path)
        assert fresh.returncode == 0 and "Assembled 60 rows" in fresh.stdout, fresh.stderr
        not_theirs = run(
            "data", "revoke", "alice.csv.contribution.json", "--account", "2", cwd=tmp_path
        )
        assert_one_line_error(not_theirs, "is not the contributor")
        assert "only the contributor can revoke: pass --account 1" in not_theirs.stderr
    finally:
        run("chain", "down", cwd=tmp_path)
