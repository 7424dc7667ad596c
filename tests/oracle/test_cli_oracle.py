"""The `model` and `oracle` commands end to end, as a user runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from proofmind.chain.accounts import Keystore
from proofmind.chain.base import Chain
from proofmind.ml.onnx_models import reference_mlp
from tests.test_cli import PROOFMIND, assert_one_line_error, run

COMMANDS = [
    ["model", "preflight"],
    ["model", "package"],
    ["model", "list"],
    ["oracle", "register"],
    ["oracle", "request"],
    ["oracle", "status"],
    ["oracle", "balance"],
    ["oracle", "deposit"],
    ["oracle", "withdraw"],
    ["oracle", "refund"],
    ["oracle", "serve"],
    ["oracle", "challenge"],
    ["fraud", "export"],
]


def test_every_command_has_help_with_examples(tmp_path: Path) -> None:
    for command in COMMANDS:
        result = run(*command, "--help", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Example" in result.stdout, command


def test_preflight_and_its_errors(tmp_path: Path) -> None:
    model = reference_mlp(tmp_path / "mlp.onnx")
    np.savetxt(tmp_path / "cal.csv", np.random.default_rng(1).normal(0, 1, (6, 16)), delimiter=",")
    result = run("model", "preflight", "mlp.onnx", "--calibration", "cal.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "logrows" in result.stdout and "quantization error" in result.stdout
    assert "fits" in result.stdout
    # EZKL's own ASCII report would follow proofmind's table
    assert "Numerical Fidelity Report" not in result.stdout + result.stderr
    (tmp_path / "short.csv").write_text("1,2,3\n")
    assert_one_line_error(
        run("model", "preflight", str(model), "--calibration", "short.csv", cwd=tmp_path),
        "short.csv",
        "3 values each",
    )
    assert_one_line_error(
        run("model", "preflight", "nope.onnx", "--calibration", "cal.csv", cwd=tmp_path),
        "nope.onnx",
    )


@pytest.mark.devnet
def test_package_register_request_status(chain: Chain, tmp_path: Path) -> None:
    reference_mlp(tmp_path / "mlp.onnx", seed=3)
    rng = np.random.default_rng(2)
    np.savetxt(tmp_path / "cal.csv", rng.normal(0, 1, (16, 16)), delimiter=",")
    assert run("init", cwd=tmp_path).returncode == 0
    none_yet = run("model", "list", cwd=tmp_path)
    assert "No packaged models yet: `proofmind model package" in none_yet.stdout
    Keystore(tmp_path / ".proofmind" / "keystore").import_key("me", chain.accounts[8].key, "pw")
    env = {
        "PROOFMIND_CHAIN_BACKEND": "rpc",
        "PROOFMIND_CHAIN_RPC_URL": chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        "PROOFMIND_CHAIN_ACCOUNT": "me",
        "PROOFMIND_KEYSTORE_PASSWORD": "pw",
    }
    packaged = run(
        "model",
        "package",
        "mlp.onnx",
        "--calibration",
        "cal.csv",
        "--name",
        "mlp",
        cwd=tmp_path,
        env=env,
    )
    assert packaged.returncode == 0, packaged.stderr
    assert "NOT secure" in packaged.stderr  # the development SRS is called what it is
    assert "verifier 0x" in packaged.stdout and "provenance record" in packaged.stdout
    assert "mlp" in run("model", "list", cwd=tmp_path, env=env).stdout
    registered = run("oracle", "register", "mlp", "--mode", "zk", cwd=tmp_path, env=env)
    assert registered.returncode == 0, registered.stderr
    values = ",".join(f"{v:.3f}" for v in rng.normal(0, 1, 16))
    asked = run("oracle", "request", "mlp", "--input", values, cwd=tmp_path, env=env)
    assert asked.returncode == 0, asked.stderr
    assert "at scale 2^" in asked.stdout and "(= " in asked.stdout  # raw and real values
    request_id = asked.stdout.split()[1]
    unanswered = run("oracle", "request", "mlp", "--input", values, "--wait", "1",
                     cwd=tmp_path, env=env)  # fmt: skip
    assert unanswered.returncode == 1 and "still pending after 1 s" in unanswered.stderr
    assert "proofmind oracle serve -m mlp" in unanswered.stderr  # no node serves it here
    status = run("oracle", "status", request_id, cwd=tmp_path, env=env)
    assert "pending" in status.stdout, status.stdout + status.stderr
    assert "model mlp (zk) 0x" in status.stdout
    # the owner changes the fee, pauses and resumes; other terms are fixed
    assert_one_line_error(
        run("oracle", "register", "mlp", "--mode", "zk", "--fee", "5", cwd=tmp_path, env=env),
        "other terms: fee",
        "proofmind oracle update mlp --mode zk --fee N",
    )
    updated = run("oracle", "update", "mlp", "--fee", "5", "--pause", cwd=tmp_path, env=env)
    assert "mlp (zk): fee 5 wei, paused" in updated.stdout, updated.stderr
    assert_one_line_error(
        run("oracle", "request", "mlp", "--input", values, cwd=tmp_path, env=env),
        "paused by its owner",
        "--resume",
    )
    resumed = run("oracle", "update", "mlp", "--resume", cwd=tmp_path, env=env)
    assert "mlp (zk): fee 5 wei, takes requests" in resumed.stdout, resumed.stderr
    again = run("oracle", "update", "mlp", "--resume", cwd=tmp_path, env=env)
    assert "mlp (zk) unchanged" in again.stdout
    assert_one_line_error(run("oracle", "update", "mlp", cwd=tmp_path, env=env), "nothing to")
    assert_one_line_error(
        run("oracle", "update", "mlp", "--mode", "optimistic", "--pause", cwd=tmp_path, env=env),
        "not registered in optimistic mode",
    )
    assert_one_line_error(
        run("oracle", "refund", request_id, cwd=tmp_path, env=env), "NotExpired", request_id
    )
    # money: deposit, balance, a withdrawal beyond it refused, then all of it withdrawn
    assert run("oracle", "deposit", "1000", cwd=tmp_path, env=env).returncode == 0
    assert "1,000 wei" in run("oracle", "balance", cwd=tmp_path, env=env).stdout
    assert_one_line_error(
        run("oracle", "withdraw", "5000", cwd=tmp_path, env=env), "InsufficientBalance"
    )
    withdrawn = run("oracle", "withdraw", cwd=tmp_path, env=env)
    assert "withdrew 1,000 wei" in withdrawn.stdout and ": 0 wei" in withdrawn.stdout
    assert_one_line_error(
        run("oracle", "request", "mlp", "--input", "1,2", cwd=tmp_path, env=env),
        "2 values",
        "16",
    )
    assert_one_line_error(
        run(
            "oracle",
            "request",
            "mlp",
            "--input",
            "1,2",
            "--mode",
            "optimistic",
            cwd=tmp_path,
            env=env,
        ),
        "not served in optimistic mode",
        "oracle register mlp",
    )
    # an unanswered request past its deadline is refunded to the requester's balance
    assert run("oracle", "register", "mlp", "--mode", "optimistic", "--timeout", "1",
               cwd=tmp_path, env=env).returncode == 0  # fmt: skip
    late = run("oracle", "request", "mlp", "--input", values, "--mode", "optimistic",
               cwd=tmp_path, env=env).stdout.split()[1]  # fmt: skip
    chain.mine(2)
    expired = run("oracle", "status", late, cwd=tmp_path, env=env).stdout
    assert "pending" in expired and f"`proofmind oracle refund {late}`" in expired
    refunded = run("oracle", "refund", late, cwd=tmp_path, env=env)
    assert refunded.returncode == 0, refunded.stderr
    assert "credited to" in refunded.stdout
    assert "1,000,000,000,000,000 wei" in run("oracle", "balance", cwd=tmp_path, env=env).stdout
    # the challenge watcher runs until SIGTERM, which ends it at once and cleanly
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PROOFMIND_")}
    # a requester waiting for an answer hears when the request expired unanswered
    waiting = subprocess.Popen(
        [*PROOFMIND, "oracle", "request", "mlp", "--input", values, "--mode", "optimistic",
         "--wait", "60"],
        cwd=tmp_path, env={**full_env, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert waiting.stdout is not None
    assert waiting.stdout.readline().startswith("request ")  # sent: now the deadline passes
    chain.mine(3)
    _, waited = waiting.communicate(timeout=30)
    assert waiting.returncode == 1 and "expired unanswered at block" in waited, waited
    assert "`proofmind oracle refund" in waited
    watcher = subprocess.Popen(
        [*PROOFMIND, "oracle", "challenge", "-m", "mlp", "--poll", "0.1"],
        cwd=tmp_path, env={**full_env, **env}, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert watcher.stderr is not None
    seen: list[str] = []
    while not seen or ("watching mlp" not in seen[-1] and seen[-1]):
        seen.append(watcher.stderr.readline())  # "" at its end: it exited
    assert "watching mlp" in seen[-1], seen
    watcher.send_signal(signal.SIGTERM)
    begun = time.monotonic()
    _, errors = watcher.communicate(timeout=20)
    assert watcher.returncode == 0, errors
    assert time.monotonic() - begun < 10
    assert "stopped; 0 challenges made" in errors
