"""The CLI as a user runs it: real subprocesses, one-line errors, no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from proofmind.chain.base import Chain
from proofmind.chain.devnet import free_port

PROOFMIND = [sys.executable, "-m", "proofmind"]


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PROOFMIND_")}
    full_env["COLUMNS"] = "200"
    full_env.update(env or {})
    return subprocess.run(
        [*PROOFMIND, *args],
        check=False,
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_version_and_help(tmp_path: Path) -> None:
    assert run("--version", cwd=tmp_path).stdout.strip() == "proofmind 0.1.0"
    for command in ([], ["chain"], ["contracts"], ["accounts"], ["demo"], ["init"]):
        result = run(*command, "--help", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Usage" in result.stdout


def _commands(group: typer.Typer, path: list[str]) -> Iterator[list[str]]:
    for command in group.registered_commands:
        assert command.callback is not None
        yield [*path, command.name or command.callback.__name__.replace("_", "-")]
    for sub in group.registered_groups:
        if sub.typer_instance is not None and isinstance(sub.name, str):
            yield from _commands(sub.typer_instance, [*path, sub.name])


def test_help_fits_an_80_column_terminal() -> None:
    """Every command's --help at 80 columns: prose is wrapped by Rich (not broken where the
    docstring's lines end), and each example line stays whole and indented under its heading."""
    from typer.testing import CliRunner

    from proofmind.cli.app import app

    commands = list(_commands(app, []))
    assert len(commands) > 60
    runner = CliRunner()
    for command in commands:
        result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "80", "NO_COLOR": "1"})
        assert result.exit_code == 0, (command, result.output)
        text = result.output.split("╭", 1)[0]  # the help text, before the option panels
        lines = text.splitlines()
        headings = [i for i, line in enumerate(lines) if line.strip() in ("Examples:", "Example:")]
        assert headings, f"{' '.join(command)}: no Examples in --help"
        for line in lines[headings[0] + 1 :]:
            if not line.strip():
                break
            assert line.startswith("   "), f"{' '.join(command)}: example broken: {line!r}"


def test_reflow_keeps_examples_and_joins_prose() -> None:
    from proofmind.cli.app import reflow

    doc = """Summary line.

    A paragraph wrapped
    in the source.

    Examples:
      proofmind monitor replay day2.csv --state monitor-state.json --strict --out alerts.jsonl
      proofmind monitor replay prices.csv --events events.csv --report scores.json  # scored
      proofmind x \\
        --params '{"a": "b --c d"}' --out a-very-long-file-name-for-the-alerts.jsonl  # note
    """
    assert reflow(doc).split("\n") == [
        "Summary line.",
        "",
        "A paragraph wrapped in the source.",
        "",
        "Examples:",
        "  proofmind monitor replay day2.csv --state monitor-state.json --strict \\",
        "    --out alerts.jsonl",
        "  # scored",
        "  proofmind monitor replay prices.csv --events events.csv --report scores.json",
        "  # note",
        "  proofmind x \\",
        '    --params \'{"a": "b --c d"}\' \\',
        "    --out a-very-long-file-name-for-the-alerts.jsonl",
    ]


def test_help_does_not_import_the_chain_stack() -> None:
    code = "import sys; from proofmind.cli.app import app; print('web3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_commands_without_workspace_say_run_init(tmp_path: Path) -> None:
    assert_one_line_error(run("chain", "status", cwd=tmp_path), "no proofmind workspace", "init")


def test_init_then_status_of_stopped_devnet(tmp_path: Path) -> None:
    result = run("init", cwd=tmp_path)
    assert result.returncode == 0 and "Created" in result.stdout
    assert "Workspace already exists" in run("init", cwd=tmp_path).stdout
    status = run("chain", "status", cwd=tmp_path)
    assert status.returncode == 3 and "stopped" in status.stdout  # "not running", for scripts
    assert status.stderr == ""


def test_missing_anvil(tmp_path: Path) -> None:
    run("init", cwd=tmp_path)
    result = run("chain", "up", cwd=tmp_path, env={"PROOFMIND_DEVNET_ANVIL_PATH": "/no/anvil"})
    assert_one_line_error(result, "/no/anvil", "npm ci")


def test_unreachable_rpc(tmp_path: Path) -> None:
    run("init", cwd=tmp_path)
    url = f"http://127.0.0.1:{free_port('127.0.0.1')}"
    env = {"PROOFMIND_CHAIN_BACKEND": "rpc", "PROOFMIND_CHAIN_RPC_URL": url}
    assert_one_line_error(run("chain", "status", cwd=tmp_path, env=env), url, "node is running")


@pytest.mark.devnet
def test_wrong_chain_id(tmp_path: Path, chain: Chain) -> None:
    run("init", cwd=tmp_path)
    env = {
        "PROOFMIND_CHAIN_BACKEND": "rpc",
        "PROOFMIND_CHAIN_RPC_URL": chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        "PROOFMIND_CHAIN_CHAIN_ID": "10",
    }
    result = run("chain", "status", cwd=tmp_path, env=env)
    assert_one_line_error(result, "is chain 31337, but chain 10 is expected", "CHAIN_ID")


def test_invalid_setting(tmp_path: Path) -> None:
    run("init", cwd=tmp_path)
    result = run("chain", "status", cwd=tmp_path, env={"PROOFMIND_CHAIN_BACKEND": "moon"})
    assert_one_line_error(result, "chain.backend", "PROOFMIND_CHAIN_BACKEND")


@pytest.mark.devnet
def test_contract_errors_through_the_cli(tmp_path: Path, chain: Chain) -> None:
    """Unknown contract, insufficient balance and a reverted call, each one clear line."""
    run("init", cwd=tmp_path)
    url = chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    secrets = {"PROOFMIND_KEYSTORE_PASSWORD": "hunter22"}
    created = run("accounts", "new", "poor", cwd=tmp_path, env=secrets)
    assert created.returncode == 0, created.stderr
    listing = run("accounts", "list", cwd=tmp_path)
    assert "poor" in listing.stdout
    env = {
        **secrets,
        "PROOFMIND_CHAIN_BACKEND": "rpc",
        "PROOFMIND_CHAIN_RPC_URL": url,
        "PROOFMIND_CHAIN_ACCOUNT": "poor",
    }
    assert_one_line_error(
        run("contracts", "deploy", "NoSuchContract", cwd=tmp_path, env=env),
        "NoSuchContract",
        "MerkleCommitments",
    )
    address = created.stdout.split(": ")[1].split()[0]
    assert_one_line_error(
        run("contracts", "deploy", cwd=tmp_path, env=env), "needs more ether", f"fund {address}"
    )
    chain.sender().send({"to": address, "value": 10**18})
    deployed = run("contracts", "deploy", cwd=tmp_path, env=env)
    assert deployed.returncode == 0, deployed.stderr
    assert "deployed" in deployed.stdout
    assert "kept" in run("contracts", "deploy", cwd=tmp_path, env=env).stdout
    root = "0x" + "ab" * 32
    sent = run(
        "contracts", "send", "MerkleCommitments", "commit", root, "3", "u", cwd=tmp_path, env=env
    )
    assert sent.returncode == 0, sent.stderr
    assert (
        run(
            "contracts", "call", "MerkleCommitments", "isCommitted", root, cwd=tmp_path, env=env
        ).stdout.strip()
        == "True"
    )
    again = run(
        "contracts", "send", "MerkleCommitments", "commit", root, "3", "u", cwd=tmp_path, env=env
    )
    assert_one_line_error(again, "RootAlreadyCommitted", root)
    unknown = run(
        "contracts",
        "call",
        "MerkleCommitments",
        "commitmentOf",
        "0x" + "cd" * 32,
        cwd=tmp_path,
        env=env,
    )
    assert_one_line_error(unknown, "UnknownRoot")
    bad = run(
        "contracts", "call", "MerkleCommitments", "isCommitted", "0x12", cwd=tmp_path, env=env
    )
    assert_one_line_error(bad, "must be bytes32", "0x12")
    listed = run("contracts", "list", cwd=tmp_path, env=env)
    assert "current" in listed.stdout


def test_no_help_text_loses_brackets_to_rich_markup() -> None:
    """The help is rendered with Rich markup: an unescaped `[word]` is taken for a style tag
    and vanishes (`pip install 'proofmind[spark]'` showed as 'proofmind'). Write `\\[`."""
    import re

    from proofmind.cli.app import app

    tag = re.compile(r"(?<!\\)\[[a-z#/@][^\[\]]*\]")
    found = []

    def walk(command: Any, path: str) -> None:
        texts = [command.help or "", *(getattr(p, "help", None) or "" for p in command.params)]
        found.extend(f"{path}: {m.group(0)}" for text in texts for m in tag.finditer(text))
        for name, child in (getattr(command, "commands", None) or {}).items():
            walk(child, f"{path} {name}")

    walk(typer.main.get_command(app), "proofmind")
    assert not found, found


def test_a_file_gone_while_duckdb_reads_is_a_user_error_not_a_bug(tmp_path: Path) -> None:
    import duckdb

    from proofmind.cli.main import known_error
    from proofmind.errors import InputError

    gone = tmp_path / "chaindata" / "transactions" / "part-1.parquet"
    with pytest.raises(duckdb.IOException) as raised:
        duckdb.connect().execute(f"SELECT * FROM read_parquet(['{gone}'])")
    said = known_error(raised.value)
    assert isinstance(said, InputError) and "part-1.parquet" in str(said)
    assert "run the command again" in str(said)
