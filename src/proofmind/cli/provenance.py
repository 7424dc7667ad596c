"""The `provenance` and `verify` commands. Imported only when one of them runs."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from proofmind.app.provenance import verify_path
from proofmind.cli.consoles import TextConsole
from proofmind.cli.tables import abbreviate, print_table
from proofmind.errors import InputError
from proofmind.provenance.api import commit, register_model
from proofmind.provenance.ledger import Ledger
from proofmind.provenance.records import Kind
from proofmind.provenance.verify import VerifyReport
from proofmind.text import count_of
from proofmind.workspace import open_workspace

console = TextConsole(soft_wrap=True)
err = TextConsole(stderr=True)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,  # redirected, a bar would only leave blank lines behind
    )


def run_dataset(
    path: Path | None,
    data: Path | str,
    name: str | None,
    *,
    engine: str | None = None,
    master: str | None = None,
    workers: int | None = None,
) -> None:
    workspace = open_workspace(path)
    started = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task("hashing rows" if engine is None else "hashing chunks", total=None)
        done = commit(
            workspace,
            data,
            name=name,
            engine=engine,
            master=master,
            workers=workers,
            progress=lambda n: bar.advance(task, n),
        )
    manifest = done.commitment.manifest
    console.print(
        f"Committed [bold]{escape(manifest.name)}[/bold]: {count_of(manifest.rows, 'row')} in "
        f"{count_of(len(manifest.files), 'file')}, {time.perf_counter() - started:.1f}s"
        + ("" if engine is None else f" on {engine}")
    )
    console.print(f"  Merkle root {manifest.root}")
    console.print(f"  manifest    {manifest.hash}")
    console.print(f"  record {done.record.key} ({done.record.status})")


def run_check(
    path: Path | None,
    data: Path | str,
    engine: str,
    master: str | None,
    chunks: str | None,
    workers: int | None,
) -> int:
    from proofmind.provenance.api import dataset_commitment
    from proofmind.provenance.chunked import ENGINES, check_chunked

    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}", hint=f"use one of {', '.join(ENGINES)}")
    span = None
    if chunks is not None:
        first, sep, end = chunks.partition(":")
        if not sep or not first.isdigit() or not end.isdigit() or int(first) >= int(end):
            raise InputError(f"--chunks {chunks!r} is not FIRST:END", hint="e.g. --chunks 0:100")
        span = range(int(first), int(end))
    workspace = open_workspace(path)
    found = [r for r in Ledger(workspace).by_path(data) if r.kind == Kind.DATASET]
    if not found:
        raise InputError(
            f"{data} is not a committed dataset in this workspace",
            hint=f"run `proofmind provenance dataset {data} --engine {engine}` first",
        )
    commitment = dataset_commitment(workspace, found[0])
    if commitment.manifest.chunk_rows is None:
        raise InputError(
            f"{data} was committed in one tree (format v1), which is checked on one machine",
            hint=f"use `proofmind verify {data}`, or commit it again with --engine",
        )
    started = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task("checking chunks", total=None)
        check = check_chunked(
            data,
            commitment,
            engine=engine,
            master=master,
            workers=workers,
            chunks=span,
            progress=lambda n: bar.advance(task, n),
        )
    what = "all chunks" if span is None else f"chunks {span.start}–{span.stop - 1}"
    if check.ok:
        console.print(
            f"[green]OK[/green] {data}: {what} match the committed root "
            f"{commitment.manifest.root} ({time.perf_counter() - started:.1f}s on {engine})"
        )
        return 0
    console.print(f"[red]CHANGED[/red] {data}:")
    for problem in check.problems:
        console.print(f"  {problem}")
    return 1


def run_model(
    path: Path | None,
    model: Path,
    run: Path | None,
    card: Path | None,
    name: str | None,
    sign: bool,
) -> None:
    workspace = open_workspace(path)
    fields = {}
    if card is not None:
        try:
            fields = json.loads(card.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read model card {card}: {exc}") from exc
        if not isinstance(fields, dict):
            raise InputError(f"model card {card} must hold a JSON object")
    owner = workspace.connect().default_account if sign else None
    record = register_model(workspace, model, name=name, run=run, card=fields, owner=owner)
    console.print(f"Registered model [bold]{escape(record.name)}[/bold] ({record.content_hash})")
    console.print(f"  card {model.name}.card.json" + (" (signed)" if owner else ""))
    console.print(f"  record {record.key} ({record.status})")


def run_mlflow(path: Path | None, run_id: str, tracking: str, datasets: list[Path]) -> None:
    from proofmind.provenance.mlflow_bridge import import_mlflow_run

    run = import_mlflow_run(open_workspace(path), tracking, run_id, datasets=datasets)
    assert run.record is not None
    console.print(
        f"Imported MLflow run {run_id} as [bold]{escape(run.name)}[/bold]: {run.seq} log entries, "
        f"{count_of(len(run.artifacts), 'artifact')}, {count_of(len(run.datasets), 'dataset')}"
    )
    console.print(f"  log  {run.log_path}")
    console.print(f"  head {run.head}  record {run.record.key} ({run.record.status})")


def run_anchor(path: Path | None, batch_size: int) -> None:
    from proofmind.cli.chainstate import show_corrections

    workspace = open_workspace(path)
    ledger = Ledger(workspace)
    if not ledger.all():
        console.print("Nothing to anchor: this workspace has no records yet.")
        return
    chain = workspace.connect()  # the ledger is checked against the chain before it is trusted
    with _progress() as bar:
        task = bar.add_task("anchoring", total=sum(r.state == "pending" for r in ledger.pending()))
        report = ledger.anchor(
            chain,
            batch_size=batch_size,
            progress=lambda n: bar.advance(task, n),
            on_wait=lambda text: bar.console.print(f"[yellow]note:[/yellow] {text}"),
        )
    show_corrections(report.corrections)
    if report.deployed_registry:
        console.print(f"Deployed ProvenanceRegistry at {report.registry}")
    if not report.tx_hashes and not report.waiting:
        console.print(f"Nothing to anchor: every record is on chain {chain.chain_id}.")
        return
    if report.tx_hashes:
        console.print(
            f"Anchored {count_of(len(report.anchored), 'record')} on chain {chain.chain_id} in "
            f"{count_of(len(report.tx_hashes), 'transaction')}: {report.gas_used:,} gas, "
            f"[bold]{report.gas_per_record:,.0f} gas/record[/bold]"
        )
    for record in report.anchored:
        console.print(f"  {record.kind_name:8} {escape(f'{record.name:24}')} {record.record_id}")
    if report.waiting:
        depth = chain.tx_settings.confirmations
        console.print(
            f"[yellow]{count_of(len(report.waiting), 'record')} sent but not yet "
            f"confirmed[/yellow] ({count_of(depth, 'block')} deep and saved); run "
            "`proofmind provenance anchor` again to settle them — they are not sent twice"
        )


def run_list(path: Path | None) -> None:
    records = Ledger(open_workspace(path)).all()
    if not records:
        console.print("No records yet: `proofmind provenance dataset PATH` commits one.")
        return
    table = Table("key", "kind", "name", "content hash", "status", "record id", "parents")
    for r in records:
        table.add_row(
            str(r.key),
            r.kind_name,
            escape(r.name),
            abbreviate(console, r.content_hash),
            r.state,
            abbreviate(console, r.record_id or ""),
            ",".join(map(str, r.parents)),
        )
    print_table(console, table)


def run_proof(path: Path | None, data: Path | str, row: int) -> None:
    from proofmind.provenance.api import dataset_commitment

    workspace = open_workspace(path)
    found = [r for r in Ledger(workspace).by_path(data) if r.kind == Kind.DATASET]
    if not found:
        raise InputError(
            f"{data} is not a committed dataset in this workspace",
            hint=f"run `proofmind provenance dataset {data}` first",
        )
    proof = dataset_commitment(workspace, found[0]).proof(row)
    payload = proof.to_json() | {"record_id": found[0].record_id}
    sys.stdout.write(json.dumps(payload, indent=2) + "\n")


def run_lineage(
    path: Path | None,
    ref: str | None,
    fmt: str,
    output: Path | None,
    direction: str = "ancestors",
) -> None:
    from proofmind.app.records import record_lineage

    count, text = record_lineage(open_workspace(path), ref, fmt, paths=True, direction=direction)
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"Wrote {count_of(count, 'record')} as {fmt} to {output}")


def run_verify(path: Path | None, target: Path | str, as_json: bool) -> int:
    workspace = open_workspace(path)
    report = verify_path(workspace, target)
    if as_json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        print_report(report, console)
    return 0 if report.ok else 1


def run_reproduce(path: Path | None, target: Path, as_json: bool) -> int:
    from proofmind.intel import fraud, sybil_model
    from proofmind.provenance.reproduce import reproduce_run

    workspace = open_workspace(path)
    if not as_json:
        err.print(f"training {target} again from its logged parameters…")
    trainers = {fraud.TRAINER: fraud.retrain, sybil_model.TRAINER: sybil_model.retrain}
    result = reproduce_run(workspace, target, trainers)
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
        return 0 if result.ok else 1
    console.print(f"run [bold]{escape(result.run.name)}[/bold]  {escape(str(result.run.path))}")
    for line in result.same:
        console.print(f"  [green]SAME[/green]     {line}")
    for line in result.problems:
        console.print(f"  [red]DIFFERS[/red]  {line}")
    for line in result.notes:
        console.print(f"  note: {line}")
    if result.ok:
        console.print(
            f"[green]reproduced[/green]: the same code and data give the same model "
            f"(trained again in {result.seconds:.0f} s)"
        )
    else:
        console.print("[red]not reproduced[/red]")
    return 0 if result.ok else 1


def print_report(report: VerifyReport, out: Console) -> None:
    for finding in report.findings:
        r = finding.record
        mark = "[green]OK[/green]" if finding.ok else "[red]DIFFERS[/red]"
        out.print(f"{mark}  {r.kind_name} [bold]{escape(r.name)}[/bold]  {escape(str(r.path))}")
        for note in finding.notes:
            out.print(f"      {note}")
        for problem in finding.problems:
            out.print(f"    [red]✗[/red] {problem}")
    verdict = "[green]verified[/green]" if report.ok else "[red]does not match its lineage[/red]"
    out.print(f"{report.target}: {verdict}")
