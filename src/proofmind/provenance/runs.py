"""Training runs: a hash-chained log of what went in and what came out.

``run.jsonl`` holds one JSON entry a line. Each entry carries ``prev`` (the hash of the entry
before it, zero for the first) and ``hash`` = keccak256 of its canonical JSON without ``hash``,
so editing, removing or re-ordering any entry breaks the chain. The hash of the closing ``end``
entry is the run's *head*: it becomes the content hash of the run's lineage record, whose
parents are the records of its input datasets.

    with proofmind.track_run("fraud-v1", datasets=["data/train.csv"]) as run:
        run.log_params(learning_rate=0.1, epochs=20)
        for step in range(20):
            run.log_metric(step, loss=...)
        run.log_artifact("model.npz")
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import re
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from math import isfinite
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from proofmind.crypto.keccak import keccak256, keccak256_file
from proofmind.errors import InputError, ProofmindError
from proofmind.provenance.dataset import canonical_json
from proofmind.provenance.ledger import Ledger, LocalRecord
from proofmind.provenance.records import Kind
from proofmind.store.stores import Stores

if TYPE_CHECKING:
    from proofmind.chain.base import Chain

LOG_FILE = "run.jsonl"
ZERO = "0x" + "00" * 32
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def entry_hash(entry: Mapping[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return "0x" + keccak256(canonical_json(body)).hex()


def run_uri(name: str) -> str:
    return f"proofmind://run/{name}"


class Run:
    """An open training run; entries are written and flushed as they are logged."""

    def __init__(self, name: str, directory: Path, ledger: Ledger) -> None:
        self.name = name
        self.directory = directory
        self.ledger = ledger
        self.head = ZERO
        self.seq = 0
        self.datasets: list[LocalRecord] = []
        self.artifacts: list[dict[str, Any]] = []
        self.record: LocalRecord | None = None
        self._log = (directory / LOG_FILE).open("x", encoding="utf-8")

    @property
    def log_path(self) -> Path:
        return self.directory / LOG_FILE

    def _append(self, kind: str, data: Mapping[str, Any], when: float | None = None) -> str:
        if self._log.closed:
            raise InputError(f"run {self.name!r} has ended; nothing more can be logged")
        entry: dict[str, Any] = {
            "seq": self.seq,
            "type": kind,
            "time": round(time.time() if when is None else when, 3),
            "data": _jsonable(data, f"{kind} entry"),
            "prev": self.head,
        }
        entry["hash"] = entry_hash(entry)
        self._log.write(json.dumps(entry, sort_keys=True) + "\n")
        self._log.flush()
        self.head = entry["hash"]
        self.seq += 1
        return self.head

    def append(self, kind: str, data: Mapping[str, Any], *, when: float | None = None) -> str:
        """A raw log entry (for importers such as the MLflow bridge); returns the new head."""
        return self._append(kind, data, when)

    def finish(self, status: str = "finished", *, when: float | None = None) -> LocalRecord:
        """Close the log and queue the run's record (track_run does this on exit)."""
        self._close(status, when)
        assert self.record is not None
        return self.record

    def log_params(self, params: Mapping[str, Any] | None = None, **more: Any) -> None:
        """Hyper-parameters (any JSON values)."""
        self._append("params", {**(params or {}), **more})

    def log_metric(self, step: int, **values: float) -> None:
        """Metric values at ``step``, e.g. ``run.log_metric(3, loss=0.21, f1=0.9)``."""
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise InputError(f"step must be a non-negative int, got {step!r}")
        if not values:
            raise InputError("log_metric needs at least one value, e.g. loss=0.2")
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not isfinite(value):
                raise InputError(f"metric {key} must be a finite number, got {value!r}")
        self._append("metric", {"step": step, "values": {k: float(v) for k, v in values.items()}})

    def log_artifact(self, path: str | Path, name: str | None = None) -> str:
        """Hash an output file (a copy goes into the workspace blob store); returns its hash."""
        file = Path(path)
        if not file.is_file():
            raise InputError(f"artifact {file} is not a file", hint="log files the run wrote")
        digest = self.ledger.stores.blobs.put_file(file)
        item = {
            "name": name or file.name,
            "path": str(file.resolve()),
            "keccak": digest,
            "bytes": file.stat().st_size,
        }
        self._append("artifact", item)
        self.artifacts.append(item)
        return digest

    def _close(self, status: str, when: float | None = None) -> None:
        artifacts = [a["keccak"] for a in self.artifacts]
        self._append("end", {"status": status, "artifacts": artifacts}, when)
        self._log.close()
        log_copy = self.ledger.stores.blobs.put_file(self.log_path)
        self.record = self.ledger.add(
            Kind.TRAINING_RUN,
            self.name,
            self.head,
            run_uri(self.name),
            parents=self.datasets,
            path=self.directory,
            meta=log_copy,
        )


@contextmanager
def logged_run(
    stores: Stores,
    name: str,
    datasets: Sequence[str | Path] = (),
    *,
    directory: str | Path | None = None,
    connect: Callable[[], Chain] | None = None,
) -> Iterator[Run]:
    """Log a training run into ``stores``; when it ends, its head becomes a lineage record,
    anchored on the chain ``connect`` opens right away — it and the records it descends from
    that are not anchored yet (its datasets), no other pending record — unless ``connect`` is
    None. ``datasets`` are paths to data files or folders, or URIs; any not yet committed are
    committed first. (``proofmind.track_run`` finds the workspace and its chain for you.)

    A run that raises is logged as failed and its record left pending. If anchoring fails
    (no chain, no funds), the run stays logged and pending, with a warning: run
    `proofmind provenance anchor` to retry."""
    start = {
        "code": {**code_fingerprint(Path.cwd()), "proofmind": package_fingerprint()},
        "environment": environment_fingerprint(),
    }
    run = open_run(stores, name, datasets, directory, start)
    try:
        yield run
    except BaseException as exc:
        run._close(f"failed: {type(exc).__name__}: {exc}"[:300])
        raise
    run._close("finished")
    if connect is not None:
        try:
            assert run.record is not None  # _close queued it
            run.ledger.anchor(connect(), only=[run.record])
        except ProofmindError as exc:
            warnings.warn(
                f"run {name!r} is logged in {run.directory}, but its record could not be "
                f"anchored: {exc} — run `proofmind provenance anchor` to retry",
                RuntimeWarning,
                stacklevel=5,  # the caller of proofmind.track_run's with-block
            )


def open_run(
    ws: Stores,
    name: str,
    datasets: Sequence[str | Path],
    directory: str | Path | None,
    start: Mapping[str, Any],
    when: float | None = None,
) -> Run:
    """A new run folder with its ``start`` entry written; the datasets are committed first."""
    from proofmind.provenance.api import commit
    from proofmind.provenance.dataset import is_uri

    if not _NAME.match(name):
        raise InputError(
            f"run name {name!r} is not usable",
            hint="use letters, digits, '.', '_' and '-' (up to 100 characters)",
        )
    # a URI is read by local workers, in chunks (as `provenance dataset URI --engine local`)
    inputs = [
        commit(ws, str(d), engine="local") if is_uri(str(d)) else commit(ws, Path(d))
        for d in datasets
    ]
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    folder = Path(directory) if directory is not None else ws.root / "runs" / f"{name}-{stamp}"
    if directory is None:
        n = 1
        while (folder / LOG_FILE).exists():
            n += 1
            folder = ws.root / "runs" / f"{name}-{stamp}-{n}"
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / LOG_FILE).exists():
        raise InputError(f"{folder} already holds a run log", hint="pick another directory")
    run = Run(name, folder, Ledger(ws))
    run.datasets = [c.record for c in inputs]
    used = [{"name": c.record.name, "root": c.record.content_hash, "rows": c.rows} for c in inputs]
    run._append("start", {"name": name, **start, "datasets": used}, when)
    return run


def code_fingerprint(directory: Path) -> dict[str, Any]:
    """The git commit of ``directory`` and a hash of any uncommitted change (None outside git)."""

    def git(*args: str) -> bytes | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=directory, capture_output=True, timeout=30, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"git_commit": None, "diff_keccak": None}
    diff = git("diff", "HEAD", "--no-color", "--no-ext-diff") or b""
    untracked = git("ls-files", "--others", "--exclude-standard") or b""
    dirty = diff + b"\0untracked\0" + untracked if untracked else diff
    return {
        "git_commit": commit.decode().strip(),
        "diff_keccak": "0x" + keccak256(dirty).hex() if dirty else None,
    }


def package_fingerprint() -> dict[str, Any]:
    """proofmind's version and keccak256 of its own code (every .py and .sql file of the
    installed package, by relative path): what trains a model with proofmind's trainers,
    wherever the command was run from and whether or not it is a git checkout."""
    root = Path(__file__).resolve().parents[1]
    parts = []
    for file in sorted(root.rglob("*")):
        if file.suffix in (".py", ".sql") and file.is_file():
            relative = file.relative_to(root).as_posix().encode()
            parts.append(relative + b"\0" + keccak256_file(file))
    return {
        "version": importlib.metadata.version("proofmind"),
        "source_keccak": "0x" + keccak256(b"".join(parts)).hex(),
    }


def environment_fingerprint() -> dict[str, Any]:
    """Python version, platform and a hash of every installed package's name and version."""
    packages = sorted(
        {f"{d.metadata['Name']}=={d.version}".lower() for d in importlib.metadata.distributions()}
    )
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": len(packages),
        "packages_keccak": "0x" + keccak256("\n".join(packages).encode()).hex(),
    }


def _jsonable(data: Mapping[str, Any], what: str) -> dict[str, Any]:
    try:
        return dict(json.loads(json.dumps(dict(data), allow_nan=False)))
    except (TypeError, ValueError) as exc:
        raise InputError(f"the {what} is not JSON: {exc}", hint="log numbers, text, lists") from exc


# --------------------------------------------------------------------------- checking


@dataclass
class LogCheck:
    entries: list[dict[str, Any]] = field(default_factory=list)
    head: str = ZERO
    problems: list[str] = field(default_factory=list)


def read_log(path: Path) -> LogCheck:
    """Parse a run log and check its hash chain entry by entry."""
    check = LogCheck()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        check.problems.append(f"cannot read the run log {path}: {exc}")
        return check
    prev = ZERO
    for n, line in enumerate(lines):
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict):
                raise ValueError("not an object")
        except ValueError:
            check.problems.append(f"log entry {n} (line {n + 1}) is not a JSON object")
            prev = "?"
            continue
        kind = entry.get("type", "?")
        if entry.get("seq") != n:
            check.problems.append(f"log entry {n} says it is entry {entry.get('seq')!r}")
        if entry_hash(entry) != entry.get("hash"):
            check.problems.append(
                f"log entry {n} ({kind}) was modified: its content no longer matches its hash"
            )
        elif prev != "?" and entry.get("prev") != prev:
            check.problems.append(
                f"log entry {n} ({kind}) does not follow entry {n - 1}: an entry was removed, "
                "inserted or re-ordered before it"
            )
        prev = str(entry.get("hash"))
        check.entries.append(entry)
    if not check.entries:
        check.problems.append(f"the run log {path} is empty")
    elif check.entries[-1].get("type") != "end":
        check.problems.append(
            f"the run log is truncated: it stops at entry {len(check.entries) - 1} "
            f"({check.entries[-1].get('type')}) without the run's 'end' entry"
        )
    check.head = prev
    return check


def diff_logs(committed: Sequence[dict[str, Any]], current: Sequence[dict[str, Any]]) -> list[str]:
    """Entry-by-entry differences from the committed log, naming the fields that changed."""
    out: list[str] = []
    for n, (old, new) in enumerate(zip(committed, current, strict=False)):
        if old == new:
            continue
        fields = changed_fields(old, new)
        shown = "; ".join(fields[:5]) + (" …" if len(fields) > 5 else "")
        out.append(f"log entry {n} ({old.get('type')}) differs from the anchored log: {shown}")
    if len(current) < len(committed):
        out.append(
            f"the log lost entries {len(current)}–{len(committed) - 1} "
            f"(the anchored log has {len(committed)} entries, this one {len(current)})"
        )
    elif len(current) > len(committed):
        out.append(f"entries {len(committed)}–{len(current) - 1} were added after the run ended")
    return out


def changed_fields(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new)):
            where = f"{prefix}.{key}" if prefix else str(key)
            if key not in new:
                out.append(f"{where} removed")
            elif key not in old:
                out.append(f"{where} added")
            elif old[key] != new[key]:
                out += changed_fields(old[key], new[key], where)
        return out
    return [f"{prefix or 'value'}: {json.dumps(old)} → {json.dumps(new)}"]


def file_keccak(path: Path) -> str:
    return "0x" + keccak256_file(path).hex()


DIFF_CHUNK = 1 << 24


def byte_diff(before: Path, now: Path) -> tuple[int | None, int, int, int]:
    """(the first differing offset or None, how many bytes differ over the common length,
    the size of ``now``, the size of ``before``), read in 16 MiB chunks: a model of
    gigabytes is compared in bounded memory, at NumPy's speed."""
    first: int | None = None
    count = 0
    with before.open("rb") as a, now.open("rb") as b:
        offset = 0
        while True:
            x, y = a.read(DIFF_CHUNK), b.read(DIFF_CHUNK)
            n = min(len(x), len(y))
            if n == 0:
                break
            unequal = np.frombuffer(x, np.uint8, n) != np.frombuffer(y, np.uint8, n)
            found = int(np.count_nonzero(unequal))
            if found and first is None:
                first = offset + int(np.argmax(unequal))
            count += found
            offset += n
            if len(x) != len(y):
                break
    return first, count, now.stat().st_size, before.stat().st_size


def byte_at(path: Path, offset: int) -> int:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read(1)[0]
