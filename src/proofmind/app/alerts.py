"""Monitor alerts of a workspace: filtered pages, one alert, and what is new since an id; mutes;
the deliveries to sinks, and dead letters delivered again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from proofmind.app.paging import Page, check_limit, decode_cursor, encode_cursor
from proofmind.errors import InputError, NotFound
from proofmind.monitor.sinks import public_sink_name
from proofmind.monitor.store import (
    STATUSES,
    AlertStore,
    Delivery,
    Mute,
    Redelivery,
    StoredAlert,
    check_delivery_status,
    parse_moment,
    parse_span,
    subject_key,
)

__all__ = [
    "AlertFilter",
    "add_mute",
    "alerts_after",
    "checked_mute",
    "end_mute",
    "get_alert",
    "list_alerts",
    "list_deliveries",
    "parse_moment",  # the store's, re-exported for the API and the CLI
    "redeliver",
    "subject_key",
]


@dataclass(frozen=True)
class AlertFilter:
    detector: str | None = None
    subject: str | None = None
    severity: str | None = None
    status: str | None = None
    since: float | None = None  # the alert's time (block or price time), unix seconds, inclusive
    until: float | None = None  # ... exclusive

    @classmethod
    def given(
        cls,
        detector: str | None = None,
        subject: str | None = None,
        severity: str | None = None,
        status: str | None = None,
        since: str | None = None,
        until: str | None = None,
        *,
        option: str = "",
    ) -> AlertFilter:
        """The filter a user's texts ask for (the API's query, the CLI's options): the status
        checked, an address subject as stored (`subject_key`), the times read (`parse_moment`;
        their errors name ``option`` + since / until, ``--`` for the CLI)."""
        if status is not None and status not in STATUSES:
            raise InputError(
                f"unknown alert status {status!r}", hint=f"use one of {', '.join(STATUSES)}"
            )
        return cls(
            detector,
            subject_key(subject),
            severity,
            status,
            None if since is None else parse_moment(since, f"{option}since"),
            None if until is None else parse_moment(until, f"{option}until"),
        )

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise InputError(
                f"the time range is empty: until ({_shown(self.until)}) is not after since "
                f"({_shown(self.since)})",
                hint="give an until after since, or leave one out",
            )

    def matches(self, alert: StoredAlert) -> bool:
        """Whether a stored alert passes every filter (what the store's query selects)."""
        a = alert.alert
        return (
            (self.detector is None or a.detector == self.detector)
            and (self.subject is None or a.subject == self.subject)
            and (self.severity is None or a.severity == self.severity)
            and (self.status is None or alert.status == self.status)
            and (self.since is None or a.time >= self.since)
            and (self.until is None or a.time < self.until)
        )


def _shown(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def list_alerts(
    store: AlertStore,
    filters: AlertFilter = AlertFilter(),
    *,
    limit: int = 100,
    cursor: str | None = None,
) -> Page[StoredAlert]:
    """A page of alerts matching ``filters``, newest first."""
    before = decode_cursor("alerts", cursor)
    rows = store.query(
        detector=filters.detector,
        subject=filters.subject,
        severity=filters.severity,
        status=filters.status,
        since=filters.since,
        until=filters.until,
        before_id=before,
        limit=check_limit(limit) + 1,
    )
    more = len(rows) > limit
    items = rows[:limit]
    return Page(items, encode_cursor("alerts", items[-1].id) if more and items else None)


def get_alert(store: AlertStore, alert_id: int) -> StoredAlert:
    found = store.get(alert_id)
    if found is None:
        raise NotFound(f"no alert {alert_id} in this workspace's alert store")
    return found


def alerts_after(
    store: AlertStore, after_id: int, filters: AlertFilter = AlertFilter(), limit: int = 500
) -> list[StoredAlert]:
    """Alerts stored after ``after_id`` (oldest first): what a live feed has not shown yet."""
    return store.query(
        detector=filters.detector,
        subject=filters.subject,
        severity=filters.severity,
        status=filters.status,
        since=filters.since,
        until=filters.until,
        after_id=after_id,
        limit=limit,
        newest_first=False,
    )


MAX_REASON = 500


def checked_mute(
    subject: str, span: str, detector: str | None = None, reason: str = ""
) -> dict[str, Any]:
    """A mute's values checked, as `AlertStore.mute`'s arguments: ``subject``, ``span`` as
    ``30m``, ``24h``, ``7d``, ``detector`` (an installed one, or None for any) and
    ``reason``."""
    from proofmind.monitor.registry import available

    if not subject.strip():
        raise InputError(
            "the subject to mute is empty",
            hint="an address, asset or tx hash, or a pattern: 0xab* (* for every subject)",
        )
    seconds = parse_span(span, "--for")
    if detector is not None and detector not in available():
        raise InputError(
            f"--detector {detector!r}: no detector of that name is installed",
            hint=f"installed detectors: {', '.join(sorted(available()))}",
        )
    if len(reason) > MAX_REASON:
        raise InputError(
            f"--reason is longer than {MAX_REASON} characters", hint="say why in short"
        )
    return {
        "subject": subject.strip(),
        "seconds": seconds,
        "detector": detector,
        "reason": reason.strip(),
    }


def add_mute(
    store: AlertStore, subject: str, span: str, detector: str | None = None, reason: str = ""
) -> Mute:
    """Silence alerts on ``subject`` (from ``detector``, or any) stored from now for ``span``,
    and those still waiting for delivery, each value checked first (`checked_mute`)."""
    return store.mute(**checked_mute(subject, span, detector, reason))


def end_mute(store: AlertStore | None, mute_id: int) -> Mute:
    """End mute ``mute_id`` now; NotFound when there is none (or no alert store at all,
    ``store`` None)."""
    ended = store.unmute(mute_id) if store is not None else None
    if ended is None:
        raise NotFound(
            f"no mute {mute_id} in this workspace",
            hint="`proofmind monitor mutes --all` lists them",
        )
    return ended


def list_deliveries(
    store: AlertStore | None,
    *,
    status: str | None = None,
    sink: str | None = None,
    alert_id: int | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page[Delivery]:
    """A page of the deliveries to sinks (the outbox), newest first: of ``status`` (pending,
    delivered, dead, muted, filtered, throttled, skipped) and ``sink`` (a sink's name, in full
    or as shown, or a kind: ``webhook``) and of alert ``alert_id`` if given. An empty page
    when the workspace has no alert store (``store`` None)."""
    before = decode_cursor("deliveries", cursor)
    check_limit(limit)
    check_delivery_status(status)
    if store is None:
        return Page([], None)
    rows = store.deliveries(
        status=status,
        sink=_stored_sink_name(store, sink),
        alert_id=alert_id,
        before_id=before,
        limit=limit + 1,
    )
    items = rows[:limit]
    more = len(rows) > limit
    return Page(items, encode_cursor("deliveries", items[-1].id) if more and items else None)


def redeliver(
    store: AlertStore | None,
    ids: list[int] | None = None,
    *,
    every: bool = False,
    sink: str | None = None,
) -> Redelivery:
    """Queue dead letters again (`AlertStore.redeliver`): those of ``ids``, or with ``every``
    all of them (of ``sink`` only, if given). A running monitor sends them at its next
    delivery pass; one started later with their sink, when it starts."""
    if ids and every:
        raise InputError(
            "give the ids of dead letters or --all, not both",
            hint="`proofmind monitor deliveries --status dead` lists the dead letters",
        )
    if not ids and not every:
        raise InputError(
            "no dead letter named: give their ids, or --all for every one",
            hint="`proofmind monitor deliveries --status dead` lists the dead letters",
        )
    if ids and sink is not None:
        raise InputError(
            "--sink goes with --all (the ids name their deliveries already)",
            hint="`proofmind monitor redeliver --all --sink webhook`",
        )
    if store is None:
        if ids:
            raise NotFound(
                f"no delivery {', '.join(map(str, sorted(set(ids))))}: this workspace has no "
                "alert store yet",
                hint="`proofmind monitor run` makes it",
            )
        return Redelivery((), ())
    return store.redeliver(ids if ids else None, sink=_stored_sink_name(store, sink))


def _stored_sink_name(store: AlertStore, sink: str | None) -> str | None:
    """``sink`` as the store names it. A webhook's name as the CLI, logs and ``/health`` show
    it (``webhook:https://host/…#digest``, `public_sink_name`) stands for the full name of
    the one webhook in the outbox it is the public name of; any other name is kept."""
    if sink is None or not sink.startswith("webhook:") or "/…#" not in sink:
        return sink
    full = {name for name, _ in store.outbox_counts() if public_sink_name(name) == sink}
    return full.pop() if len(full) == 1 else sink
