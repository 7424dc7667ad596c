"""Monitor alerts of a workspace: filtered pages, one alert, and what is new since an id."""

from __future__ import annotations

import re
from dataclasses import dataclass

from proofmind.app.paging import Page, check_limit, decode_cursor, encode_cursor
from proofmind.errors import NotFound
from proofmind.monitor.store import AlertStore, StoredAlert


def subject_key(subject: str | None) -> str | None:
    """A subject as alerts store it: an address or a hash in lower case, whatever case it was
    given in (a checksummed address); anything else as given."""
    if subject is not None and re.fullmatch(r"0x[0-9a-fA-F]+", subject.strip()):
        return subject.strip().lower()
    return subject


@dataclass(frozen=True)
class AlertFilter:
    detector: str | None = None
    subject: str | None = None
    severity: str | None = None
    status: str | None = None


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
        after_id=after_id,
        limit=limit,
        newest_first=False,
    )
