"""EZKL's scratch folders: named after their process, removed on exit, and a killed
process's folder removed by the next prover."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from proofmind.ml.zk._ezkl import WORKDIR_PREFIX, sweep_orphans, workdir

HOLD = """
import sys, time
from proofmind.ml.zk._ezkl import workdir
with workdir() as folder:
    (folder / "witness.json").write_text("{}")
    print(folder, flush=True)
    time.sleep(60)
"""


def _gone_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(child.stdout)


def test_a_killed_provers_folder_is_swept_and_a_live_ones_kept(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    held = subprocess.Popen(
        [sys.executable, "-c", HOLD], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert held.stdout is not None
        folder = Path(held.stdout.readline().strip())
        assert folder.parent == tmp_path and folder.name.startswith(f"{WORKDIR_PREFIX}{held.pid}-")
        assert sweep_orphans(tmp_path, age=0) == 0  # its process still runs
        held.send_signal(signal.SIGKILL)
        held.wait()
        assert (folder / "witness.json").is_file()  # SIGKILL: no clean-up of its own
        assert sweep_orphans(tmp_path) == 0  # too recent: it might be another namespace's
        assert folder.is_dir()
        assert sweep_orphans(tmp_path, now=time.time() + 3600) == 1
        assert not folder.exists()
    finally:
        held.kill()
        held.wait()


def test_only_old_folders_of_gone_processes_are_removed(tmp_path: Path) -> None:
    old = time.time() - 7200
    gone = tmp_path / f"{WORKDIR_PREFIX}{_gone_pid()}-abc"
    mine = tmp_path / f"{WORKDIR_PREFIX}{os.getpid()}-abc"
    unnamed = tmp_path / f"{WORKDIR_PREFIX}x1y2-abc"  # not a PID
    legacy = tmp_path / f"{WORKDIR_PREFIX}0ab_cd9"  # before folders carried their PID
    other = tmp_path / "someone-else-123-abc"
    for folder in (gone, mine, unnamed, legacy, other):
        folder.mkdir()
        os.utime(folder, (old, old))
    assert sweep_orphans(tmp_path) == 1
    assert not gone.exists()
    assert all(f.is_dir() for f in (mine, unnamed, legacy, other))


def test_workdir_removes_its_folder_on_exit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    with workdir() as folder:
        assert folder.parent == tmp_path
        (folder / "proof.json").write_text("{}")
    assert not folder.exists()
