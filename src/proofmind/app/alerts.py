"""Monitor alerts of a workspace: filtered pages, one alert, and what is new since an id."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from proofmind.app.paging import Page, check_limit, decode_cursor, encode_cursor
from proofmind.errors import InputError, NotFound
from proofmind.monitor.store import AlertStore, StoredAlert


def subject_key(subject: str | None) -> str | None:
    """A subject as alerts store it: an address or a hash in lower case, whatever case it was
    given in (a checksummed address); anything else as given."""
    if subject is not None and re.fullmatch(r"0x[0-9a-fA-F]+", subject.strip()):
        return subject.strip().lower()
    return subject


LAST_SECOND = 253_402_300_800.0  # 10000-01-01 UTC
_AGO = re.compile(r"(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>[smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_moment(text: str, what: str = "time", now: float | None = None) -> float:
    """A moment a user gives for alerts' times, as unix seconds: an ISO 8601 date or date-time
    (``2022-06-22``, ``2022-06-22T04:00``, in UTC unless it names its zone), unix seconds
    (``1655870400``), or a span before now (``30m``, ``24h``, ``7d``, ``2w``). An error names
    ``what`` (the option) and the forms."""
    given = text.strip()
    hint = (
        f"give {what} as an ISO 8601 date or time in UTC (2022-06-22, 2022-06-22T04:00), "
        "unix seconds (1655870400), or a span before now (30m, 24h, 7d, 2w)"
    )
    ago = _AGO.fullmatch(given.lower())
    if ago is not None:
        span = float(ago["amount"]) * _UNIT_SECONDS[ago["unit"]]
        return (time.time() if now is None else now) - span
    try:
        seconds = float(given)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or seconds < 0:
            raise InputError(f"{what} {text!r} is not a time", hint=hint)
        if seconds >= LAST_SECOND:  # past the year 9999: milliseconds, most likely
            raise InputError(
                f"{what} {text!r} is not a time in seconds (milliseconds?)",
                hint=f"divide milliseconds by 1000; {hint}",
            )
        return seconds
    try:
        moment = datetime.fromisoformat(given.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InputError(f"{what} {text!r} is not a time", hint=hint) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@dataclass(frozen=True)
class AlertFilter:
    detector: str | None = None
    subject: str | None = None
    severity: str | None = None
    status: str | None = None
    since: float | None = None  # the alert's time (block or price time), unix seconds, inclusive
    until: float | None = None  # ... exclusive

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
