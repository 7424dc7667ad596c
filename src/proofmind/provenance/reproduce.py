"""`proofmind verify --reproduce RUN`: train a registered run again from its committed data and
logged parameters, and compare what comes out with what the run logged, byte for byte.

A run can be trained again when it logged its ``trainer`` (proofmind's own trainers do:
``fraud train --register``) and the caller knows that trainer: trainers are passed in, so this
module does not depend on any model's code. The verdict is "reproduced" only when the code is
the version the run recorded, the data still hash to the committed roots, and every logged
artifact and metric comes out the same. A difference in the installed libraries is reported
next to the verdict (it is the likely cause of a mismatch), not as one.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proofmind.errors import InputError, ProofmindError
from proofmind.provenance.api import dataset_commitment
from proofmind.provenance.dataset import check_dataset
from proofmind.provenance.ledger import Ledger, LocalRecord
from proofmind.provenance.records import Kind
from proofmind.provenance.runs import (
    LOG_FILE,
    byte_diff,
    code_fingerprint,
    environment_fingerprint,
    file_keccak,
    package_fingerprint,
    read_log,
)
from proofmind.store.stores import Stores
from proofmind.text import count_of

# (the run's logged parameters, an empty folder) → (the files written, the metrics)
Trainer = Callable[[Mapping[str, Any], Path], tuple[list[Path], dict[str, float]]]


@dataclass
class Reproduction:
    """What training a run again gave, against what the run logged."""

    run: LocalRecord
    trainer: str | None = None
    same: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.same)

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run.name,
            "path": self.run.path,
            "trainer": self.trainer,
            "reproduced": self.ok,
            "same": self.same,
            "problems": self.problems,
            "notes": self.notes,
            "seconds": round(self.seconds, 1),
        }


def reproduce_run(workspace: Stores, target: Path, trainers: Mapping[str, Trainer]) -> Reproduction:
    """Train the run at ``target`` (its folder, or a model it registered) again and compare."""
    ledger = Ledger(workspace)
    run = find_run(ledger, target)
    result = Reproduction(run)
    log = read_log(Path(str(run.path)) / LOG_FILE)
    if log.problems or log.head != run.content_hash:
        result.problems.append(
            "the run log is not the one its record holds, so its parameters cannot be trusted: "
            f"`proofmind verify {run.path}` says what changed"
        )
        return result
    entries = log.entries
    start: dict[str, Any] = next((e["data"] for e in entries if e.get("type") == "start"), {})
    params: dict[str, Any] = {}
    metrics: dict[str, float] = {}
    artifacts: list[dict[str, Any]] = []
    for entry in entries:
        kind, data = entry.get("type"), entry.get("data", {})
        if kind == "params":
            params.update(data)
        elif kind == "metric":
            metrics.update(data.get("values", {}))
        elif kind == "artifact":
            artifacts.append(data)
    status = entries[-1]["data"].get("status")
    result.trainer = params.get("trainer")
    if result.trainer not in trainers:
        known = ", ".join(sorted(trainers)) or "none"
        raise InputError(
            f"run {run.name!r} did not log a trainer proofmind can run again "
            f"(it logged {result.trainer!r}; known: {known})",
            hint="runs of `proofmind fraud train --register` and `sybil train --register` can "
            "be reproduced; for your own training code, run it again and compare the outputs "
            "with `proofmind verify`",
        )
    if status != "finished":
        result.problems.append(f"the run did not finish (status {status!r}): nothing to compare")
        return result
    _check_code(start.get("code", {}), result)
    _check_environment(start.get("environment", {}), params.get("libraries", {}), result)
    _check_outputs_on_disk(artifacts, result)
    if not _check_data(workspace, ledger, run, result):
        result.notes.append("not trained again: the data it would read is not the run's data")
        return result
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="proofmind-reproduce-") as folder:
        try:
            written, got_metrics = trainers[str(result.trainer)](params, Path(folder))
        except ProofmindError as exc:
            result.problems.append(f"training again failed: {exc.message}")
            return result
        result.seconds = time.monotonic() - began
        _compare_artifacts(workspace, artifacts, written, result)
    _compare_metrics(metrics, got_metrics, result)
    return result


def find_run(ledger: Ledger, target: Path) -> LocalRecord:
    """The training run recorded for a run folder, or the run that registered a model file."""
    records = ledger.by_path(target)
    if not records and target.is_file():
        records = ledger.by_content(Kind.MODEL, file_keccak(target))
    if not records:
        if not target.exists():
            raise InputError(f"{target} does not exist", hint="give a run folder or a model file")
        raise InputError(
            f"nothing in this workspace's ledger describes {target}",
            hint="give the folder of a training run, or a model registered by one",
        )
    record = records[0]
    if record.kind == Kind.MODEL:
        runs = [ledger.get(k) for k in record.parents]
        runs = [r for r in runs if r.kind == Kind.TRAINING_RUN]
        if not runs:
            raise InputError(
                f"model {target} was registered without a training run: nothing to re-run"
            )
        record = runs[0]
    if record.kind != Kind.TRAINING_RUN:
        raise InputError(
            f"{target} is a {record.kind_name}, not a training run",
            hint="give the folder of a training run, or a model registered by one",
        )
    if record.path is None or not (Path(record.path) / LOG_FILE).is_file():
        raise InputError(f"the log of run {record.name!r} is missing ({record.path})")
    return record


def _check_code(recorded: Mapping[str, Any], result: Reproduction) -> None:
    """The code must be the version the run recorded, or the re-run proves nothing about it."""
    then = recorded.get("proofmind") or {}
    now = package_fingerprint()
    commit, diff = recorded.get("git_commit"), recorded.get("diff_keccak")
    where = _git_state(commit, diff)
    same_code = then.get("source_keccak") == now["source_keccak"]
    if not then:
        result.problems.append(
            "the run did not record proofmind's code version, so a re-run with this code "
            "cannot stand for the original"
        )
    elif not same_code:
        result.problems.append(
            f"the code differs from the version that trained the run: proofmind "
            f"{then.get('version')} with source keccak {str(then.get('source_keccak'))[:14]}… "
            f"then ({where}), {now['version']} with {now['source_keccak'][:14]}… now — a "
            "re-run with this code shows what this code gives, not that the run is reproduced"
        )
    else:
        result.same.append(
            f"code: proofmind {now['version']}, source keccak {now['source_keccak'][:14]}…"
        )
    git = code_fingerprint(Path.cwd())
    if same_code and (commit, diff) != (git["git_commit"], git["diff_keccak"]):
        result.notes.append(
            f"the run was started in a directory at {where}, this one is at "
            f"{_git_state(git['git_commit'], git['diff_keccak'])}; proofmind's own code is the "
            "same"
        )


def _git_state(commit: str | None, diff: str | None) -> str:
    if commit is None:
        return "no git commit"
    return f"git commit {commit[:12]}" + (" with uncommitted changes" if diff else "")


def _check_environment(
    recorded: Mapping[str, Any], libraries: Mapping[str, str], result: Reproduction
) -> None:
    from importlib.metadata import PackageNotFoundError, version

    changed = []
    for name, then in sorted(libraries.items()):
        try:
            now = version(name)
        except PackageNotFoundError:
            now = "not installed"
        if now != then:
            changed.append(f"{name} {then} → {now}")
    if changed:
        result.notes.append("library versions differ from the run's: " + ", ".join(changed))
    env = environment_fingerprint()
    if recorded.get("python") not in (None, env["python"]):
        result.notes.append(f"Python {recorded.get('python')} then, {env['python']} now")
    if recorded.get("packages_keccak") not in (None, env["packages_keccak"]) and not changed:
        result.notes.append("the installed packages differ from the run's (their hash differs)")


def _check_outputs_on_disk(artifacts: list[dict[str, Any]], result: Reproduction) -> None:
    for item in artifacts:
        path = Path(str(item.get("path")))
        if not path.is_file():
            result.problems.append(f"{item.get('name')} is missing from {path}")
        elif file_keccak(path) != item.get("keccak"):
            result.problems.append(
                f"{item.get('name')} at {path} is not the file the run logged: it changed "
                f"after the run (keccak {file_keccak(path)[:14]}…, logged "
                f"{str(item.get('keccak'))[:14]}…)"
            )


def _check_data(workspace: Stores, ledger: Ledger, run: LocalRecord, result: Reproduction) -> bool:
    datasets = [ledger.get(k) for k in run.parents]
    changed = False
    for record in datasets:
        if record.path is None or not Path(record.path).exists():
            result.problems.append(f"dataset {record.name} is missing ({record.path})")
            changed = True
            continue
        check = check_dataset(Path(record.path), dataset_commitment(workspace, record))
        if check.problems:
            shown = "; ".join(check.problems[:3])
            result.problems.append(f"dataset {record.name} changed since the run: {shown}")
            changed = True
    if not changed:
        result.same.append(
            f"data: {count_of(len(datasets), 'dataset')} "
            + (
                "hashes to its committed root"
                if len(datasets) == 1
                else "hash to their committed roots"
            )
        )
    return not changed


def _compare_artifacts(
    workspace: Stores,
    artifacts: list[dict[str, Any]],
    written: list[Path],
    result: Reproduction,
) -> None:
    by_name = {p.name: p for p in written}
    for item in artifacts:
        name, logged = str(item.get("name")), str(item.get("keccak"))
        path = by_name.pop(name, None)
        if path is None:
            result.problems.append(f"training again wrote no {name}")
            continue
        got = file_keccak(path)
        if got == logged:
            result.same.append(f"{name}: keccak {got[:14]}…, byte for byte")
        else:
            result.problems.append(
                f"{name} comes out different: keccak {got[:14]}… now, {logged[:14]}… logged"
                + _first_difference(workspace, path, logged)
            )
    for name in sorted(by_name):
        result.notes.append(f"training again also wrote {name}, which the run did not log")


def _first_difference(workspace: Stores, path: Path, logged: str) -> str:
    """Where the new file first departs from the logged one (the workspace keeps a copy)."""
    if not workspace.blobs.has(logged):
        return ""
    kept = workspace.blobs.path_of(logged)
    at, _, size, was = byte_diff(kept, path)
    if at is None:
        return f" (size {size} bytes, logged {was})"
    with kept.open("rb") as f:
        text = b"\0" not in f.read(4096)
    if text:  # a text model: name the line
        old, new = kept.read_bytes(), path.read_bytes()
        line = old[:at].count(b"\n") + 1
        return f" (from line {line} on: {_line(old, at)!r} logged, {_line(new, at)!r} now)"
    return f" (from byte {at} on)"


def _line(data: bytes, at: int) -> str:
    begin = data.rfind(b"\n", 0, at) + 1
    end = data.find(b"\n", at)
    return data[begin : end if end >= 0 else len(data)][:80].decode(errors="replace")


def _compare_metrics(
    logged: Mapping[str, float], got: Mapping[str, float], result: Reproduction
) -> None:
    differ = [
        f"{k} {got[k]!r} now, {v!r} logged" for k, v in sorted(logged.items()) if got.get(k) != v
    ]
    if differ:
        result.problems.append("metrics differ: " + "; ".join(differ))
    elif logged:
        result.same.append("metrics: " + ", ".join(f"{k} {v:.4f}" for k, v in logged.items()))
