"""What `proofmind monitor deliveries`, `monitor redeliver` and `monitor test-sinks` do;
imported only when they run."""

from __future__ import annotations

import json
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from proofmind.cli.consoles import TextConsole
from proofmind.cli.tables import print_table
from proofmind.errors import InputError, ProofmindError
from proofmind.monitor.sinks import public_sink_name
from proofmind.monitor.store import AlertStore, Delivery
from proofmind.text import count_of

console = TextConsole(soft_wrap=True)
err = TextConsole(stderr=True, soft_wrap=True)


def _store(workspace_path: Path | None) -> AlertStore | None:
    """The workspace's alert store, or None when it has none yet (none is made to read it)."""
    from proofmind.workspace import open_workspace

    return AlertStore.existing(open_workspace(workspace_path).root)


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def run_deliveries(
    workspace_path: Path | None,
    status: str | None,
    sink: str | None,
    alert: int | None,
    limit: int,
    json_out: bool,
) -> None:
    from proofmind.app.alerts import list_deliveries
    from proofmind.cli.monitor_run import short_subject

    store = _store(workspace_path)
    try:
        page = list_deliveries(store, status=status, sink=sink, alert_id=alert, limit=limit)
    finally:
        if store is not None:
            store.close()
    if json_out:
        for delivery in page.items:
            print(json.dumps(delivery.to_dict(), sort_keys=True))
        return
    if not page.items:
        which = " ".join(filter(None, [status, "deliveries", sink and f"to {sink}"]))
        err.print(escape(f"No {which}" + (f" of alert {alert}." if alert else ".")))
        return
    table = Table(title=f"{len(page.items)} deliveries, newest first")
    table.add_column("id", no_wrap=True)
    table.add_column("sink", max_width=40, overflow="fold")
    for column in ("event", "alert", "subject", "status", "tries"):
        table.add_column(column, no_wrap=True)
    table.add_column("last error", min_width=10, overflow="fold")
    for d in page.items:
        table.add_row(
            str(d.id),
            escape(public_sink_name(d.sink)),
            d.event,
            str(d.alert_id),
            escape(short_subject(d.subject, 6, 4)),
            d.status,
            str(d.attempts),
            escape(_short(d.last_error or "", 120)),
        )
    print_table(console, table)
    if page.next_cursor is not None:
        err.print(f"More deliveries match: --limit over {limit} shows them.")


def _line(delivery: Delivery) -> str:
    what = "" if delivery.event == "alert" else f"{delivery.event} of "
    return (
        f"delivery {delivery.id} ({what}alert {delivery.alert_id}, {delivery.subject}) "
        f"to {public_sink_name(delivery.sink)}"
    )


def run_redeliver(
    workspace_path: Path | None,
    ids: list[int],
    every: bool,
    sink: str | None,
    json_out: bool,
) -> None:
    from proofmind.app.alerts import redeliver

    store = _store(workspace_path)
    try:
        done = redeliver(store, ids, every=every, sink=sink)
    finally:
        if store is not None:
            store.close()
    if json_out:
        print(
            json.dumps(
                {
                    "queued": [d.to_dict() for d in done.queued],
                    "skipped": [{**d.to_dict(), "reason": why} for d, why in done.skipped],
                },
                sort_keys=True,
            )
        )
        return
    for delivery, why in done.skipped:
        err.print(f"left dead: {escape(_line(delivery))}: {escape(why)}")
    if not done.queued:
        err.print("No dead letter queued again." if done.skipped else "No dead letters.")
        return
    for delivery in done.queued:
        err.print(f"queued again: {escape(_line(delivery))}")
    sinks = sorted({d.sink for d in done.queued})
    err.print(
        f"{count_of(len(done.queued), 'dead letter')} queued again, first in their sink's order: a "
        "running `monitor run` or `serve --monitor` with "
        + ("that sink" if len(sinks) == 1 else "those sinks")
        + " sends them at its next delivery pass, or one started later does."
    )


def run_test_sinks(webhooks: list[str], chats: dict[str, list[str]]) -> None:
    from proofmind.cli.monitor_run import remote_sinks
    from proofmind.monitor.sinks import probe_sinks, public_sink_name

    sinks = remote_sinks(webhooks, chats)
    if not sinks:
        raise InputError(
            "no sink to test",
            hint="give --webhook, --slack, --discord or --telegram (or their environment "
            "variables)",
        )
    outcome = [(public_sink_name(name), error) for name, error in probe_sinks(sinks)]
    for name, error in outcome:
        if error is None:
            err.print(f"[green]ok[/]: {escape(name)} took the test alert")
        else:
            err.print(f"[red]failed[/]: {escape(name)}: {escape(error)}")
    failed = [name for name, error in outcome if error is not None]
    if failed:
        raise ProofmindError(
            f"{len(failed)} of {len(outcome)} sink(s) did not take the test alert",
            hint="check the URL, the token and the receiver's logs; `monitor run` retries, "
            "this test does not",
        )
