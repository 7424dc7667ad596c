"""The `ingest` and `fraud` commands. Imported only when one of them runs."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from proofmind.cli.consoles import TextConsole, block_progress
from proofmind.cli.params import parse_address
from proofmind.cli.tables import print_table
from proofmind.errors import InputError
from proofmind.intel.etherscan import connect, import_etherscan
from proofmind.intel.fraud import (
    Features,
    address_features,
    check_labels,
    data_tables,
    evaluate,
    read_labels,
    require_data,
    train_model,
)
from proofmind.text import count_of

if TYPE_CHECKING:
    from proofmind.app.fraud import RegisteredModel

console = TextConsole(soft_wrap=True)
err = TextConsole(stderr=True, soft_wrap=True)


def run_ingest_etherscan(files: list[Path], out: Path, strict: bool, edges: bool = False) -> None:
    if edges:
        from proofmind.intel.edges import import_edges

        report = import_edges(files, out, strict=strict)
    else:
        report = import_etherscan(files, out, strict=strict)
    for table, rows in report.tables.items():
        console.print(
            f"{table}: {count_of(rows, 'row')} → {out / table}/ (Parquet, by block range)"
        )
        if report.duplicates.get(table):
            console.print(
                f"  {count_of(report.duplicates[table], 'duplicate row')} dropped (a row that "
                "appears more than once, e.g. in two accounts' exports, is kept once)"
            )
    if report.bad_rows:
        err.print(f"{count_of(len(report.bad_rows), 'malformed row')} left out:")
        for row in report.bad_rows[:20]:
            err.print(f"  {row}")
        if len(report.bad_rows) > 20:
            err.print(f"  … and {len(report.bad_rows) - 20} more")


def _labelled_features(
    data: Path, labels_path: Path, first_n: int | None = None
) -> tuple[dict[str, int], Features]:
    """The labels and their addresses' features; an error when the data cannot back them."""
    labels = read_labels(labels_path)
    require_data(data)
    con = connect(data)
    matched = check_labels(con, labels, labels_path, data)
    said = f"{matched:,} of {len(labels):,} labelled addresses appear in {data}"
    if matched < len(labels):  # no history, nothing to learn from: see fraud.NO_HISTORY
        said += f"; the other {len(labels) - matched:,} have no history there and are left out"
    console.print(said)
    return labels, address_features(con, list(labels), first_n)


def run_early_warning(data: Path, labels_path: Path, folds: int, ns: list[int]) -> None:
    """The cross-validated quality of models that see only each account's first N
    transactions, for each N, next to the full history."""
    labels = read_labels(labels_path)
    require_data(data)
    con = connect(data)
    matched = check_labels(con, labels, labels_path, data)
    table = Table(
        "history seen",
        "F1",
        "PR-AUC",
        "precision",
        "recall",
        title=f"Early warning: {folds}-fold address-disjoint CV, 95% CIs, threshold 0.5",
    )
    with err.status("training a model per history length…") as status:
        for n in [*ns, None]:
            status.update(f"history: {'full' if n is None else f'first {n}'}…")
            report = evaluate(address_features(con, list(labels), n), labels, folds=folds)
            m = report.metrics
            table.add_row(
                "full history" if n is None else f"first {n} transaction(s)",
                *(str(m[k]) for k in ("f1", "pr_auc", "precision", "recall")),
            )
    print_table(console, table)
    console.print(
        f"{matched:,} labelled addresses with data; a model for N is trained on features "
        "of the first N transactions only (`fraud train --first-n N`)."
    )


def run_evaluate(data: Path, labels_path: Path, folds: int) -> None:
    labels, features = _labelled_features(data, labels_path)
    report = evaluate(features, labels, folds=folds)
    table = Table(
        "metric (illicit class)", "value (95% CI)", title=f"{folds}-fold address-disjoint CV"
    )
    for name, metric in report.metrics.items():
        table.add_row(name, str(metric))
    print_table(console, table)
    console.print(f"{report.addresses} addresses ({report.illicit} illicit), threshold 0.5")


def run_train(
    data: Path,
    labels_path: Path,
    output: Path,
    register: bool,
    workspace: Path | None,
    mlp_onnx: Path | None = None,
    first_n: int | None = None,
) -> None:
    if first_n is not None and register:
        raise InputError(
            "--first-n cannot be combined with --register yet",
            hint="train the early-warning model without --register",
        )
    if not register:
        labels, features = _labelled_features(data, labels_path, first_n)
        rows, illicit = train_model(features, labels, output)
        console.print(f"Trained on {rows} addresses ({illicit} illicit) → {output}")
        if mlp_onnx is not None:
            from proofmind.intel.fraud import labelled
            from proofmind.intel.fraud_onnx import write_mlp

            calibration = write_mlp(*labelled(features, labels), mlp_onnx)
            console.print(
                f"Fraud MLP → {mlp_onnx} (inputs: signed log of the {len(features.names)} "
                f"features);\ncalibration inputs → {calibration} (for `proofmind model package`)"
            )
        return
    from proofmind.app.training import train_fraud_registered
    from proofmind.workspace import open_workspace

    ws = open_workspace(workspace)
    record, report = train_fraud_registered(ws, data, labels_path, output, mlp_onnx)
    console.print(
        f"Trained → {output}; cross-validated F1 {report.metrics['f1']}; model record "
        f"{record.key} ({record.status}), lineage: run and {len(data_tables(data)) + 1} datasets"
    )
    if mlp_onnx is not None:
        from proofmind.intel.fraud_onnx import calibration_path

        console.print(f"Fraud MLP → {mlp_onnx}, calibration inputs → {calibration_path(mlp_onnx)}")
        console.print("  (both logged as artifacts of the same run)")
    console.print("Anchor it with `proofmind provenance anchor`; check it with `proofmind verify`.")


def run_export(model: Path, output: Path) -> None:
    from proofmind.intel.fraud_onnx import export_lightgbm

    export_lightgbm(model, output)
    console.print(f"{model} → {output} (ONNX; input x: 1 × features, output y: P(illicit))")


def run_score(
    data: Path,
    model_path: Path | RegisteredModel,
    addresses: list[str],
    explain_top: int,
    first_n: int | None = None,
) -> None:
    from proofmind.app.fraud import SCORED, score_addresses

    wanted = _addresses(addresses)
    found = score_addresses(data, model_path, wanted, explain_top=explain_top, first_n=first_n)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["address", "status", "score", *(["explanation"] if explain_top else [])])
    for row in found:
        if row.status != SCORED:
            writer.writerow([row.address, row.status, "", *([""] if explain_top else [])])
            continue
        extra = [json.dumps({k: round(v, 4) for k, v in row.explanation})] if explain_top else []
        writer.writerow([row.address, row.status, f"{float(row.score or 0.0):.6f}", *extra])
    missing = len([r for r in found if r.status != SCORED])
    if missing == len(found):
        raise InputError(
            f"none of the {len(wanted)} address(es) has a transaction in {data}: nothing scored",
            hint="ingest their transactions first, or check --data",
        )
    if missing:
        err.print(f"{missing} of {len(wanted)} address(es) have no data in {data} (not scored)")


def _addresses(items: list[str]) -> list[str]:
    """Addresses (lower-case) from the arguments: each an address or a CSV file whose first
    column holds them (a header and other rows not starting with 0x are skipped)."""
    out: list[str] = []
    for item in items:
        path = Path(item)
        if not item.startswith("0x") and path.is_file():
            try:
                with path.open(newline="", encoding="utf-8-sig") as f:
                    for n, row in enumerate(csv.reader(f), start=1):
                        if row and row[0].strip().startswith("0x"):
                            out.append(parse_address(row[0], f"line {n} of {path}:").lower())
            except (OSError, UnicodeDecodeError, csv.Error) as exc:
                raise InputError(f"cannot read addresses from {path}: {exc}") from exc
        elif not item.startswith("0x"):
            raise InputError(
                f"{item!r} is neither an address nor a file",
                hint="give 0x-addresses or CSV files of them",
            )
        else:
            out.append(parse_address(item).lower())
    return out


def run_ingest_rpc(
    workspace: Path | None,
    url: str | None,
    out: Path,
    start: int | None,
    end: int | None,
    follow: bool,
    confirmations: int,
    poll: float = 2.0,
) -> None:
    """`ingest rpc`, one-shot or --follow, as a service of the shared runner: SIGTERM or
    Ctrl-C stop it at a range boundary (what is written is committed, nothing half-written)."""
    import asyncio

    from proofmind.app.hosting import run_loop
    from proofmind.app.ingest import node_url, open_source
    from proofmind.app.runner import install_signal_handlers
    from proofmind.chain.retry import with_retries
    from proofmind.intel.ingest import IngestReport, check_range, ingest_async, saved_next_block
    from proofmind.workspace import open_workspace

    if url is None:
        url = node_url(open_workspace(workspace).connect())
    source = open_source(url)
    first = check_range(
        source.w3, out, start, end, follow=follow, confirmations=confirmations,
        chain_id=source.chain_id,
    )  # fmt: skip
    live = IngestReport()  # filled as it goes: the bar's total is the blocks up to the head
    reports: list[IngestReport] = []
    stopped = False
    with block_progress(err, "ingesting") as bar:
        if end is None:
            head = int(with_retries(lambda: source.w3.eth.block_number)) - confirmations
        else:
            head = end
        task = bar.add_task("ingesting", total=max(0, head - first + 1))

        def advance(blocks: int) -> None:
            last = end if end is not None else live.safe_head
            bar.update(task, advance=blocks, total=None if last is None else last - first + 1)

        async def main() -> None:
            nonlocal stopped
            shutdown = asyncio.Event()
            install_signal_handlers(shutdown)
            reports.append(
                await ingest_async(
                    source.w3, url, out, chain_id=source.chain_id, start=start, end=end,
                    follow=follow, confirmations=confirmations, poll_seconds=poll,
                    progress=advance, shutdown=shutdown, report=live,
                )
            )  # fmt: skip
            stopped = shutdown.is_set()

        try:
            run_loop(main)
        except KeyboardInterrupt:  # before the signal handlers were installed
            console.print("stopped; the next run resumes from the checkpoint")
            return
    report = reports[0]
    rate = report.rows["transactions"] / report.seconds if report.seconds else 0.0
    summary = (
        f"{report.blocks:,} blocks, {report.rows['transactions']:,} transactions "
        f"({rate:,.0f} tx/s), {report.rows['logs']:,} logs, "
        f"{report.rows['erc20_transfers']:,} ERC-20 and {report.rows['native_transfers']:,} "
        f"native transfers → {out}"
    )
    if stopped:
        summary = f"stopped: {summary}; the next run resumes at block {saved_next_block(out)}"
    console.print(summary)
    if report.reorgs:
        console.print(
            f"  {count_of(len(report.reorgs), 'reorg')} undone "
            f"(from block {report.reorgs[0].fork_block}, "
            f"{count_of(sum(r.depth for r in report.reorgs), 'block')} in all); the counts above "
            "are of what was written, the rows a reorg then removed included"
        )
    if report.backoffs:
        console.print(f"  backed off {count_of(report.backoffs, 'time')} for rate limits")
