"""Monitor alerts of a workspace: filtered pages, one alert, and what is new since an id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from proofmind.app.paging import Page, check_limit, decode_cursor, encode_cursor
from proofmind.errors import InputError, NotFound
from proofmind.monitor.store import (
    STATUSES,
    AlertStore,
    StoredAlert,
    parse_moment,
    subject_key,
)

__all__ = [
    "AlertFilter",
    "alerts_after",
    "get_alert",
    "list_alerts",
    "parse_moment",  # the store's, re-exported for the API and the CLI
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
