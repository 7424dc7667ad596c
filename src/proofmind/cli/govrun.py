"""The `gov` commands' work. Imported only when one of them runs."""

from __future__ import annotations

import csv
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from proofmind.cli.consoles import TextConsole
from proofmind.cli.tables import print_table
from proofmind.errors import InputError
from proofmind.text import count_of

console = TextConsole(soft_wrap=True)
err = TextConsole(stderr=True, soft_wrap=True)


def run_ingest(
    files: list[Path],
    out: Path,
    dao: str | None,
    strict: bool,
    chain: Path | None = None,
    governors: list[str] | None = None,
    rpc: str | None = None,
) -> None:
    from proofmind.gov.tables import import_governance

    onchain = None
    if rpc is not None:
        if chain is None:
            raise InputError("--rpc goes with --chain and --governor")
        from proofmind.chain.connect import read_chain_id
        from proofmind.chain.rpc import http_web3, redact_url

        onchain = http_web3(rpc)
        read_chain_id(onchain, redact_url(rpc))  # one clear error when it does not answer
    report = import_governance(
        files, out, dao=dao, strict=strict, chain=chain, governors=governors or [],
        onchain=onchain,
    )  # fmt: skip
    console.print(f"proposals: {count_of(report.proposals, 'row')} → {out / 'proposals'}/")
    console.print(f"votes: {count_of(report.votes, 'row')} → {out / 'votes'}/")
    if report.actions:
        console.print(f"actions: {count_of(report.actions, 'row')} → {out / 'actions'}/")
    if report.without_outcome:
        console.print(
            f"  {count_of(report.without_outcome, 'closed proposal')} "
            + ("offers" if report.without_outcome == 1 else "offer")
            + " no for / against choice (a choice between options): they have no pass or "
            "fail, so forecasts neither learn from them nor forecast them"
        )
    for path in report.read_line_by_line:
        err.print(f"  {path} has malformed lines: read line by line (slow) to name them")
    for row in report.bad_rows[:20]:
        err.print(f"  left out: {row}")
    if len(report.bad_rows) > 20:
        err.print(f"  … and {len(report.bad_rows) - 20} more malformed rows")


def _dao(data: Path, dao: str | None) -> tuple[Any, str]:
    from proofmind.gov.forecast import daos
    from proofmind.gov.tables import connect

    con = connect(data)
    found = daos(con)
    if dao is None:
        if len(found) != 1:
            raise InputError(
                f"{data} holds {len(found)} DAOs ({', '.join(found) or 'none'})",
                hint="choose one with --dao",
            )
        dao = found[0]
    elif dao not in found:
        raise InputError(
            f"no DAO named {dao!r} in {data}", hint=f"one of: {', '.join(found) or 'none'}"
        )
    return con, dao


def _evaluate(data: Path, dao: str | None, test_share: float, *, required: bool = True) -> Any:
    """The DAO's connection, name, proposals and evaluation. Too few outcomes to evaluate: an
    error, or (not ``required``) a warning and no evaluation."""
    from proofmind.gov import forecast as fc

    con, name = _dao(data, dao)
    proposals = fc.history_features(con, name)
    try:
        with err.status("training and evaluating on the time-ordered split…"):
            evaluation = fc.evaluate(proposals, name, test_share)
    except ValueError as exc:  # too few proposals with an outcome
        if required:
            raise InputError(str(exc), hint="ingest more proposals with outcomes") from exc
        err.print(f"[yellow]warning:[/yellow] {escape(str(exc))}: no forecasts in the report")
        return con, name, proposals, None
    return con, name, proposals, evaluation


def _day(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def _open_forecasts(proposals: Any) -> list[tuple[str, int, str, str, float]]:
    return _fit_open(proposals)[1]


def _fit_open(proposals: Any) -> tuple[Any, list[tuple[str, int, str, str, float]]]:
    """The model fitted on every proposal with an outcome, and its forecasts of the open
    ones (none: no model)."""
    import numpy as np

    from proofmind.gov.forecast import OutcomeModel

    open_rows = np.flatnonzero(np.isnan(proposals.passed))
    if not len(open_rows):
        return None, []
    model = OutcomeModel().fit(proposals)
    pending = proposals.take(open_rows)
    p_pass = model.predict(pending)
    found = zip(pending.ids, pending.created, pending.types, pending.texts, p_pass, strict=True)
    return model, [(i, int(c), t, x, float(p)) for i, c, t, x, p in found]


def run_predict(
    data: Path,
    dao: str | None,
    test_share: float,
    out: Path | None,
    record: bool = False,
    workspace: Path | None = None,
    anchor: bool = True,
) -> None:
    con, name, proposals, evaluation = _evaluate(data, dao, test_share)
    table = Table(
        title=f"{name}: trained on {evaluation.train:,} proposals before "
        f"{_day(evaluation.cut)}, tested on the {evaluation.test:,} after "
        f"(pass rate {evaluation.base_rate_train:.0%} → {evaluation.base_rate_test:.0%})"
    )
    table.add_column("forecast")
    metric_names = ["ROC-AUC", "PR-AUC", "F1", "accuracy", "Brier"]
    for m in metric_names:
        table.add_column(m, justify="right")
    for model, values in evaluation.metrics.items():
        table.add_row(
            model,
            *[
                f"{values[m][0]:.3f} [{values[m][1]:.3f}, {values[m][2]:.3f}]"
                if m in values
                else ""
                for m in metric_names
            ],
        )
    print_table(console, table)
    console.print("95% bootstrap intervals; the last row is the paired gain in ROC-AUC.")
    console.print("Calibration on the test split (forecast bin: mean forecast → observed):")
    for lo, mean, observed, n in evaluation.reliability:
        console.print(f"  {lo:.1f}–{lo + 0.1:.1f}: {mean:.2f} → {observed:.2f} ({n})")
    model, forecasts = _fit_open(proposals)
    if not forecasts:
        if record:
            raise InputError(
                "no open proposal to forecast: nothing to record",
                hint="record forecasts while a vote is still open",
            )
        console.print("No open proposal to forecast (every proposal has an outcome).")
        if out is None:
            return  # with -o, the file is written all the same: a script reads no rows, not no file
    if record:
        _record(con, name, model, forecasts, evaluation, data, workspace, anchor)
    if out is None:
        shown = 20
        for pid, created, kind, text, p in forecasts[:shown]:
            console.print(escape(f"{pid}  {_day(int(created))}  {kind:12} {p:.2f}  {text[:60]}"))
        if len(forecasts) > shown:
            console.print(f"… and {len(forecasts) - shown} more: -o FILE writes every forecast")
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["proposal_id", "created", "type", "title", "p_pass"])
        for pid, created, kind, text, p in forecasts:
            writer.writerow([pid, _day(int(created)), kind, text, f"{p:.4f}"])
    os.replace(tmp, out)
    console.print(f"{count_of(len(forecasts), 'open proposal')} forecast → {out}")


def run_report(
    data: Path, dao: str | None, test_share: float, out: Path, late: float = 0.1, top_k: int = 10
) -> None:
    import numpy as np

    # too few outcomes to forecast: the sections from the votes and texts still hold
    con, name, proposals, evaluation = _evaluate(data, dao, test_share, required=False)
    lines = [
        f"# Governance report: {name}",
        "",
        f"{len(proposals.ids):,} proposals from {_day(int(proposals.created.min()))} to "
        f"{_day(int(proposals.created.max()))}.",
        "",
        "## Outcome forecast (time-ordered evaluation)",
        "",
    ]
    if evaluation is None:
        known = int((~np.isnan(proposals.passed)).sum())
        lines.append(
            f"None: only {known} proposals have an outcome, too few to train and test a "
            "forecast (it takes 20)."
        )
    else:
        lines += _evaluation_section(evaluation)
    forecasts = [] if evaluation is None else _open_forecasts(proposals)
    lines += ["", "## Open proposals", ""]
    if evaluation is None:
        lines.append("Not forecast: too few outcomes to learn from.")
    elif forecasts:
        lines += ["| proposal | created | type | title | P(pass) |", "|---|---|---|---|---:|"]
        for pid, created, kind, text, p in forecasts:
            title = text.replace("|", "\\|")[:80]
            lines.append(f"| {pid} | {_day(int(created))} | {kind} | {title} | {p:.2f} |")
    else:
        lines.append("None: every proposal has an outcome.")
    lines += _texts_section(con, name)
    lines += _concentration_section(con, name)
    lines += _swings_section(con, name, late, top_k)
    lines += _actions_section(con, name)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, out)
    console.print(f"report → {out}")


def _evaluation_section(evaluation: Any) -> list[str]:
    lines = [
        f"Trained on {evaluation.train:,} proposals created before {_day(evaluation.cut)} "
        f"(pass rate {evaluation.base_rate_train:.1%}), tested on the {evaluation.test:,} "
        f"after (pass rate {evaluation.base_rate_test:.1%}). 95% bootstrap intervals.",
        "",
        "| forecast | ROC-AUC | PR-AUC | F1 | accuracy | Brier |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for model, values in evaluation.metrics.items():
        cells = [
            f"{values[m][0]:.3f} [{values[m][1]:.3f}, {values[m][2]:.3f}]" if m in values else ""
            for m in ("ROC-AUC", "PR-AUC", "F1", "accuracy", "Brier")
        ]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    lines += ["", "Calibration (test split):", "", "| forecast bin | mean forecast | passed | n |",
              "|---|---:|---:|---:|"]  # fmt: skip
    for lo, mean, observed, n in evaluation.reliability:
        lines.append(f"| {lo:.1f}–{lo + 0.1:.1f} | {mean:.2f} | {observed:.2f} | {n} |")
    return lines


SHOWN = 50


def _concentration_section(con: Any, name: str) -> list[str]:
    from proofmind.gov.signals import (
        concentration,
        concentration_over_time,
        concentration_table,
    )

    lines = ["", "## Voting-power concentration", ""]
    concentration_table(con, name)
    signals = concentration(con, name, limit=SHOWN)
    if not signals:
        return [*lines, "No votes were ingested for this DAO."]
    lines += [
        "Per quarter of creation: the median Gini coefficient of the voters' power, the median",
        "Nakamoto coefficient (the fewest voters holding more than half of it), and the share",
        "of proposals where two voters or fewer hold that majority.",
        "",
        "| quarter | proposals | median Gini | median Nakamoto | majority ≤ 2 voters |",
        "|---|---:|---:|---:|---:|",
    ]
    for quarter, n, g, k, share in concentration_over_time(con, name):
        lines.append(f"| {quarter} | {n:,} | {g:.3f} | {k:.0f} | {share:.0%} |")
    lines += [
        "",
        f"The {len(signals)} most concentrated proposals (fewest voters to a majority first):",
        "",
        "| proposal | voters | Gini | Nakamoto coefficient |",
        "|---|---:|---:|---:|",
    ]
    for _, pid, voters, g, k in signals:
        lines.append(f"| {pid} | {voters:,} | {g:.3f} | {k} |")
    return lines


def run_texts(data: Path, dao: str | None, show: int) -> None:
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    from proofmind.gov.text import TEXTS, text_rows

    con, name = _dao(data, dao)
    proposals = con.execute(
        "SELECT dao, proposal_id, title, body, type FROM proposals WHERE dao = ? "
        "ORDER BY created_at, proposal_id",
        [name],
    ).fetchall()
    with err.status(f"reading {len(proposals):,} proposal texts…"):
        rows = text_rows(proposals)
    schema = pa.schema([(c, pa.list_(pa.string()) if t == "list<string>" else t) for c, t in TEXTS])
    target = data / "texts"
    kept: list[dict[str, Any]] = []
    if target.is_dir():  # other DAOs' rows stay
        kept = [
            r
            for r in pq.read_table(target).to_pylist()  # small: one row per proposal
            if r["dao"] != name
        ]
    staged = Path(tempfile.mkdtemp(prefix=".texts-", dir=data))
    try:
        pq.write_table(pa.Table.from_pylist(kept + rows, schema=schema), staged / "part.parquet")
        shutil.rmtree(target, ignore_errors=True)
        staged.rename(target)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    console.print(escape(f"texts: {len(rows):,} proposals of {name} → {target}/"))
    for row, (_, pid, title, _, _) in (
        list(zip(rows, proposals, strict=True))[-show:] if show else []
    ):
        console.print(
            escape(
                f"{pid}  [{', '.join(row['categories'])}] tone {row['tone']:+.2f}  {title[:60]}\n"
                f"    {row['summary'][:160]}\n    keywords: {', '.join(row['keywords'])}"
            )
        )


TEXTS_SHOWN = 20


def _texts_section(con: Any, name: str) -> list[str]:
    import json

    from proofmind.gov.text import text_rows

    made = con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'texts'").fetchone()
    latest = con.execute(
        "SELECT dao, proposal_id, title, body, created_at, type FROM proposals WHERE dao = ? "
        "ORDER BY created_at DESC, proposal_id LIMIT ?",
        [name, TEXTS_SHOWN],
    ).fetchall()
    lines = ["", "## Proposal texts", ""]
    if made and made[0]:
        counts = con.execute(
            "SELECT c, count(*) FROM (SELECT unnest(categories) AS c FROM texts WHERE dao = ?) "
            "GROUP BY c ORDER BY count(*) DESC, c",
            [name],
        ).fetchall()
        tones = con.execute("SELECT avg(tone) FROM texts WHERE dao = ?", [name]).fetchone()
        if counts:
            lines += [
                "Categories (keyword rules; a proposal may have several): "
                + ", ".join(f"{c} {n:,}" for c, n in counts)
                + (f". Mean tone (VADER compound): {tones[0]:+.2f}." if tones else "."),
                "",
            ]
    lines += [
        f"The {len(latest)} latest proposals: an extractive summary (the body's sentences that "
        "share the most words with the title), categories, keywords (YAKE) and tone (VADER), "
        "each with the sentences it rests on. Titles only where a proposal has no body.",
        "",
    ]
    rows = text_rows((d, p, t, b, k) for d, p, t, b, _, k in latest)
    for row, (_, pid, title, body, created, _) in zip(rows, latest, strict=True):
        lines += [f"### {_md(title)[:120]}", "", f"`{pid}`, {_day(int(created))}"]
        if body:
            lines.append(f"- summary: {_md(row['summary'])}")
        categories = json.loads(row["category_evidence"])
        lines.append(
            "- categories: "
            + "; ".join(
                e["label"]
                + (f" (\u201c{_md(e['sentences'][0])[:140]}\u201d)" if e["sentences"] else "")
                for e in categories
            )
        )
        if row["keywords"]:
            lines.append("- keywords: " + ", ".join(_md(k) for k in row["keywords"]))
        tone = f"- tone: {row['tone']:+.2f}"
        for e in json.loads(row["tone_evidence"]):
            tone += f"; {e['label']} {e['score']:+.2f}: \u201c{_md(e['sentences'][0])[:140]}\u201d"
        lines += [tone, ""]
    return lines


def _md(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _swings_section(con: Any, name: str, late: float, top_k: int) -> list[str]:
    from proofmind.gov.signals import late_swings

    lines = ["", "## Last-minute swings by large holders", ""]
    swings = late_swings(con, name, late=late, top_k=top_k, min_share=0.2)
    if not swings:
        return [
            *lines,
            f"No proposal where the {top_k} largest voters, voting in the final {late:.0%} of "
            "the window, flipped the outcome or held over 20% of the power.",
        ]
    flips = sum(bool(s["flipped"]) for s in swings)
    lines += [
        f"Votes of the {top_k} largest voters of a proposal cast in the final {late:.0%} of its "
        f"voting window. {flips} proposal(s) where they flipped the leader (For vs Against "
        "without them → with them); then those where they held over 20% of the power.",
        "",
        "| proposal | voters | late large voters | their share | For/Against before | after "
        "| flipped |",
        "|---|---:|---:|---:|---|---|---|",
    ]
    for s in swings[:SHOWN]:
        before = "For" if s["for_led_before"] else "Against"
        after = "For" if s["for_leads"] else "Against"
        lines.append(
            f"| {s['proposal_id']} | {s['voters']:,} | {s['late_large_voters']} | "
            f"{s['late_share']:.0%} | {before} ({s['for_before']:,.0f} / "
            f"{s['against_before']:,.0f}) | {after} ({s['for_vp']:,.0f} / "
            f"{s['against_vp']:,.0f}) | {'**yes**' if s['flipped'] else 'no'} |"
        )
    return lines


def _actions_section(con: Any, name: str) -> list[str]:
    from proofmind.gov.calldata import flag_action

    rows = con.execute(
        "SELECT proposal_id, action_index, target, value, calldata FROM actions WHERE dao = ? "
        "ORDER BY proposal_id, action_index",
        [name],
    ).fetchall()
    if not rows:
        return []
    flags = [flag_action(int(i), str(t), int(v), str(c)) for _, i, t, v, c in rows]
    lines = [
        "",
        "## Proposals that move funds, upgrade contracts or change control",
        "",
        "From the calldata of the Governor proposals' actions (the 4-byte selector against "
        "well-known functions, arguments decoded).",
        "",
        "| proposal | action | target | kind | function | arguments |",
        "|---|---:|---|---|---|---|",
    ]
    for (pid, *_), flag in zip(rows, flags, strict=True):
        if flag.kind == "call":
            continue
        lines.append(
            f"| {pid} | {flag.index} | {flag.target} | **{flag.kind}** | "
            f"`{flag.function}` | {_md(flag.detail)[:120]} |"
        )
    if len(lines) == 7:
        lines.append("| (none) | | | | | |")
    return lines


def _record(
    con: Any,
    name: str,
    model: Any,
    forecasts: list[tuple[str, int, str, str, float]],
    evaluation: Any,
    data: Path,
    workspace: Path | None,
    anchor: bool,
) -> None:
    from proofmind.gov.record import anchor_forecast, record_forecasts
    from proofmind.workspace import open_workspace

    ws = open_workspace(workspace)
    metrics = {
        m: [round(float(x), 4) for x in values[m]]
        for m in ("ROC-AUC", "Brier")
        for values in [evaluation.metrics["model"]]
        if m in values
    }
    recorded = record_forecasts(
        ws,
        con,
        name,
        model,
        [(pid, p) for pid, _, _, _, p in forecasts],
        metrics,
        data / "forecasts",
    )
    console.print(
        f"recorded: model record {recorded.model_record.key}, forecast record "
        f"{recorded.record.key} (inputs {recorded.inputs_hash[:18]}…) → {recorded.document}"
    )
    if not anchor:
        console.print("Anchor it with `proofmind provenance anchor` before the votes end.")
        return
    done = anchor_forecast(ws, ws.connect(), recorded)
    console.print(
        f"anchored in block {done.block_number} ({_day(done.block_time)}): before the end of "
        f"{count_of(len(done.before_vote_end), 'vote')}"
        + (f"; after the end of {len(done.too_late)}" if done.too_late else "")
    )


def run_check(data: Path, document: Path) -> int:
    """The exit code: 0 when the tables reproduce every forecast's inputs, else 1."""
    from proofmind.gov.record import check_forecast
    from proofmind.gov.tables import connect

    found = check_forecast(connect(data), document)
    console.print(
        f"{count_of(len(found.unchanged), 'forecast')} whose inputs the tables reproduce, "
        f"{len(found.changed)} whose proposal changed or is gone"
    )
    for pid in found.changed[:20]:
        err.print(f"  changed or gone: {pid}")
    if len(found.changed) > 20:
        err.print(f"  … and {len(found.changed) - 20} more")
    for pid, p, y in found.resolved:
        console.print(f"  {pid}: forecast {p:.2f}, {'passed' if y else 'rejected'}")
    if found.brier is not None:
        console.print(f"Brier score over {len(found.resolved)} resolved: {found.brier:.3f}")
    else:
        console.print("No forecast proposal has an outcome yet.")
    return 1 if found.changed else 0
