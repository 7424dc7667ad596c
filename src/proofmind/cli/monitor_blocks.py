"""What `proofmind monitor replay` does over a folder of ingested block tables; imported only
when it runs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.table import Table

from proofmind.cli.consoles import TextConsole, block_progress
from proofmind.errors import InputError
from proofmind.monitor.api import Detector
from proofmind.monitor.prices import COMPRESSED, FORMATS

console = TextConsole(soft_wrap=True)
err = TextConsole(stderr=True, soft_wrap=True)

KINDS = ("auto", "prices", "blocks")
PRICE_SUFFIXES = (*FORMATS, *(f + c for f in FORMATS for c in COMPRESSED), ".zip")
# as the messages name them
PRICE_KINDS = ".csv, .tsv, .parquet, .json, .jsonl; compressed (.gz, .bz2, .xz, .zst) or zipped"
# block detectors that need no parameters; watch and fraud-exposure run when --params has them
BLOCK_DEFAULTS = ["funding-fan-out", "flow-anomaly", "subject-flow"]
CONFIGURED = ["watch", "fraud-exposure"]
STATE_KEY = "@blocks"  # the replay's own entry in the state file (not a detector name)


def price_files_in(folder: Path) -> list[Path]:
    """The price files (`PRICE_SUFFIXES`) directly in ``folder``, by name."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.name.lower().endswith(PRICE_SUFFIXES) and not p.name.startswith(".")
    )


def price_files(inputs: list[Path]) -> list[Path]:
    """The price files of ``inputs``: a file as given; a folder's price files by name, and a
    zip archive's of several files (a Kaggle download of one CSV per coin), less those whose
    header is not a price file's (upstream's errors.csv beside its *_usd.csv), each left out
    with one line on stderr. A zip archive in a folder is read as a file (one price file in
    it) or as a folder (several)."""
    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            found = [member for file in price_files_in(path) for member in _unpacked(file)]
            files += _price_files_of(path, found, "folder")
        else:  # a file, or a zip archive of several: its price files
            members = _unpacked(path)
            files += [path] if members == [path] else _price_files_of(path, members, "zip archive")
    return files


def _several_in_zip(path: Path) -> bool:
    """Whether ``path`` is a zip archive of several files (one that cannot be read is read as a
    file, to say why)."""
    from proofmind.monitor.prices import zip_members

    if path.suffix.lower() != ".zip" or not path.is_file():
        return False
    try:
        return len(zip_members(path)) > 1
    except InputError:
        return False


def _unpacked(path: Path) -> list[Path]:
    """``path`` itself, or the price files of a zip archive of several (written out to a
    temporary folder), with a line on stderr naming them."""
    from proofmind.monitor.prices import shown_names, unpack_zip

    if not _several_in_zip(path):
        return [path]
    members = unpack_zip(path, tuple(s for s in PRICE_SUFFIXES if s != ".zip"))
    if members:
        names = [m.name for m in members]
        err.print(
            f"{path.name}: read {len(members)} price file(s) from the archive "
            f"({shown_names(names)})",
            highlight=False,
            markup=False,
        )
    return members


def _price_files_of(path: Path, found: list[Path], kind: str) -> list[Path]:
    """The files of ``found`` (the files of the folder or archive ``path``) whose header is a
    price file's; the others each left out with a line on stderr; none at all an error."""
    from proofmind.monitor.prices import not_a_price_file

    if not found:
        raise InputError(
            f"{path} holds no price file ({PRICE_KINDS})",
            hint=f"give the price files, or the {kind} they are in",
        )
    problems = {file: not_a_price_file(file) for file in found}
    left_out = {file: problem for file, problem in problems.items() if problem is not None}
    if len(left_out) == len(found):
        named = "; ".join(f"{f.name}: {why}" for f, why in list(left_out.items())[:3])
        raise InputError(
            f"no file in {path} is a price file ({named}"
            + (f"; and {len(found) - 3} more" if len(found) > 3 else "")
            + ")",
            hint="the files need the columns symbol, timestamp, usd_price",
        )
    for file, problem in left_out.items():
        err.print(f"left out {file} (not a price file: {problem})", highlight=False, markup=False)
    return [file for file in found if file not in left_out]


def input_kind(path: Path, kind: str) -> str:
    """'prices' or 'blocks': what ``path`` is, as ``kind`` says or (auto) as it looks."""
    from proofmind.monitor.blockreplay import is_block_tables

    if kind not in KINDS:
        raise InputError(f"--input {kind!r} is not one of {', '.join(KINDS)}")
    if kind != "auto":
        return kind
    if path.is_dir():
        if is_block_tables(path):
            return "blocks"
        if price_files_in(path):
            return "prices"
        raise InputError(
            f"{path} is a folder with neither ingested block tables (transactions/ or "
            f"erc20_transfers/ with Parquet files) nor price files ({PRICE_KINDS})",
            hint="write block tables with `proofmind ingest etherscan FILES -o DIR` or `ingest "
            "rpc`, or give price files",
        )
    if path.name.lower().endswith(PRICE_SUFFIXES):
        return "prices"
    if not path.exists():
        raise InputError(
            f"{path} does not exist",
            hint=f"give a price file ({PRICE_KINDS}) or a folder of ingested tables",
        )
    raise InputError(
        f"cannot tell what {path} holds",
        hint=f"give a price file ({PRICE_KINDS}) or a folder written by "
        "`proofmind ingest`, or say which with --input prices|blocks",
    )


def run_block_replay(
    folder: Path,
    events_path: Path | None,
    out: Path | None,
    names: list[str] | None,
    state_path: Path | None,
    subjects: list[str] | None,
    params: str | None,
    chunk: int = 20_000,
    report: Path | None = None,
) -> None:
    from proofmind.cli.monitor_run import (
        ALERT_FORMATS,
        ReplayScores,
        _params,
        alert_json,
        detection_line,
        print_replay_summary,
        save_state,
        window_json,
    )
    from proofmind.monitor.blockreplay import BlockTables, evaluate_block_alerts, replay_blocks
    from proofmind.monitor.replay import read_events

    if out is not None and out.suffix not in ALERT_FORMATS:
        raise InputError(
            f"cannot tell the alert format of {out} from its suffix",
            hint="name it .jsonl (JSON lines) or .parquet",
        )
    if subjects:
        raise InputError(
            "--subjects selects price assets; it does not apply to block tables",
            hint="score block alerts against --events of the addresses you want",
        )
    events = read_events(events_path) if events_path is not None else None
    parsed = _params(params)
    if names is None:
        names = BLOCK_DEFAULTS + [n for n in CONFIGURED if n in parsed]
    detectors, after = _restore(state_path, names, parsed)
    wrong = [d.name for d in detectors if "block" not in d.events]
    if wrong:
        raise InputError(
            f"detector(s) {', '.join(wrong)} read prices, not blocks",
            hint="replay a price file for them; block detectors: "
            + ", ".join(BLOCK_DEFAULTS + CONFIGURED),
        )
    tables = BlockTables(folder, chunk=chunk)
    total = tables.block_count
    rows = tables.row_count(after)
    if after is not None:
        err.print(f"resuming after block {after:,} (from {state_path})")
    last = [after]
    done = [0]
    started = time.perf_counter()
    with block_progress(err, "replay") as bar:
        task = bar.add_task("replay", total=total if after is None else _left(tables, after))

        def advance(batch: Any) -> None:
            bar.advance(task, len(batch))
            last[0] = int(batch.numbers[-1])
            done[0] += len(batch)

        alerts = replay_blocks(tables.batches(after), detectors, on_batch=advance)
    elapsed = time.perf_counter() - started
    counts: dict[str, int] = {}
    for alert in alerts:
        counts[alert.detector] = counts.get(alert.detector, 0) + 1

    def scores() -> ReplayScores | None:
        if events is None:
            return None
        scored = evaluate_block_alerts(alerts, events, tables.first_last_time())
        table = Table("detector", "alerts", "outside every window")
        for name, count in sorted(scored.per_detector.items()):
            table.add_row(name, str(count["alerts"]), str(count["false"]))
        heading = "scored: all block alerts, by subject"
        missed = [f"{w.subject} {w.source}" for w in scored.missed]
        details = {
            "summary": scored.summary(),
            "per_detector": scored.per_detector,
            "missed": [window_json(w) for w in scored.missed],
            "detected": [
                {
                    **window_json(d.window),
                    "alert": alert_json(d.alert),
                    "delay_hours": d.delay_hours,
                }
                for d in scored.found
            ],
        }
        detected = [detection_line(d, None) for d in scored.found]
        return ReplayScores(table, heading, scored.summary(), [], missed, details, detected)

    print_replay_summary(
        f"{rows:,} rows (transactions + transfers) in {done[0]:,} blocks",
        rows,
        "rows",
        alerts,
        elapsed,
        out,
        save=None
        if state_path is None
        else lambda: save_state(state_path, detectors, {STATE_KEY: {"last_block": last[0]}}),
        after_save=[f"alerts by detector: {json.dumps(dict(sorted(counts.items())))}"],
        scores=scores,
        report=report,
    )


def _left(tables: Any, after: int) -> int:
    import numpy as np

    numbers = tables.numbers
    return int(len(numbers) - np.searchsorted(numbers, after, side="right"))


def _restore(
    path: Path | None, names: list[str], params: dict[str, dict[str, Any]]
) -> tuple[list[Detector], int | None]:
    from proofmind.monitor.registry import detector_class, load_detectors

    if path is None or not path.exists():
        return load_detectors(names, params), None
    try:
        saved: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        mark = saved.get(STATE_KEY)
        if not isinstance(mark, dict):
            raise InputError(
                f"{path} is not the state of a block replay",
                hint="give the --state file a block replay wrote, or a new path",
            )
        detectors = [detector_class(name).from_state(saved[name]) for name in names]
        last = mark.get("last_block")
        return detectors, None if last is None else int(last)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"cannot restore detector state from {path}: {exc}",
            hint="delete the file to start fresh, or pass the detectors it was saved with",
        ) from exc
