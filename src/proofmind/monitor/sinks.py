"""Where `monitor run` delivers alerts and retractions: the terminal, a JSON-lines file, webhooks,
and chat channels (Slack's and Discord's incoming webhooks, a Telegram bot).

Delivery is driven by the store's outbox (a row per alert or retraction and sink, written with
the alert): a sink is told about each row until it accepts it, then the row is marked delivered.
A crash between "accepted" and "marked" would deliver that row twice, so each sink makes a
repeat harmless: the JSON-lines file remembers the delivery ids it holds, and a webhook carries
the delivery id as ``Idempotency-Key`` for the receiver to drop a repeat. A chat channel cannot
drop a repeat: after such a crash its message may show twice.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import hmac
import json
import logging
import os
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from proofmind.monitor.api import SEVERITIES, Alert
from proofmind.monitor.store import HANDLED, AlertStore, StoredAlert

log = logging.getLogger("proofmind.monitor")

SIGNATURE_HEADER = "X-Proofmind-Signature"
SECRET_ENV = "PROOFMIND_MONITOR_WEBHOOK_SECRET"


class DeliveryError(Exception):
    """A sink could not take a delivery now (it is retried later, not before ``retry_after``
    seconds when the receiver said so), or, ``refused``, will never take it as it is."""

    def __init__(
        self, message: str, retry_after: float | None = None, *, refused: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after, self.refused = retry_after, refused


# answers that refuse the body itself (malformed to the receiver, too large, not processable):
# the same bytes sent again would be refused again, so the delivery is a dead letter at once
# and the sink's next one goes instead of waiting ~4 min behind its retries. Slack and Discord
# answer 400 to a payload they reject (a block or embed they cannot take), Telegram to a
# message too long; a receiver that answers 400 to every body (a wrong chat id) makes each
# delivery a dead letter at once, logged, for `monitor redeliver` once fixed.
REFUSED_BODY = {
    400: "the receiver rejected the request as malformed",
    413: "the body is too large",
    422: "the receiver cannot process the body",
}


def _answer_error(
    status: int, retry_after: float | None, location: str | None = None
) -> DeliveryError:
    said = " (rate limited)" if status == 429 else ""
    if status in REFUSED_BODY:
        said = f" ({REFUSED_BODY[status]}: not retried)"
    if 300 <= status < 400:  # not followed: a 301 or 302 would turn the POST into a bare GET
        to = f" to {_origin(location)}/…" if location else ""
        said = f" (a redirect{to}, not followed: give the URL it redirects to)"
    return DeliveryError(f"HTTP {status}{said}", retry_after, refused=status in REFUSED_BODY)


def _origin(url: str) -> str:
    """``url``'s scheme, host and port only (its path and query may hold a key)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    with contextlib.suppress(ValueError):  # a port that is no number: left out
        if parts.port is not None:
            host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}" if parts.scheme else host


class Sink(Protocol):
    name: str

    def deliver(self, delivery: int, event: str, alert: StoredAlert, *, held: int = 0) -> None:
        """Hand over one alert or retraction; raise DeliveryError to retry later. ``held``:
        the repeats of this alert's detector on its subject that the sink's cooldown held
        back since the last one it got (`SinkPolicy`)."""


def payload(delivery: int, event: str, alert: StoredAlert, held: int = 0) -> dict[str, Any]:
    """A delivery as JSON (the webhook's body, a JSON line); ``held`` only when there were
    repeats held back by a cooldown."""
    body: dict[str, Any] = {"delivery": delivery, "event": event, "alert": alert.to_dict()}
    if held:
        body["held"] = held
    return body


def held_text(held: int) -> str:
    """What a message adds about the ``held`` repeats a cooldown held back (1 or more)."""
    return f"{held} repeat{'s' if held > 1 else ''} held back by the cooldown since the last one"


class TerminalSink:
    """Alerts as lines on the terminal (Rich)."""

    name = kind = "terminal"

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(soft_wrap=True, highlight=False)

    def deliver(self, delivery: int, event: str, alert: StoredAlert, *, held: int = 0) -> None:
        from rich.markup import escape  # a subject or explanation with [ is no markup

        a = alert.alert
        colour = {"critical": "red", "high": "red", "medium": "yellow"}.get(a.severity, "cyan")
        what = "RETRACTED " if event == "retraction" else ""
        block = f" block {a.block}" if a.block is not None else ""
        more = f" ({held_text(held)})" if held else ""
        self.console.print(
            f"[{colour}]{what}{a.severity.upper()}[/] {a.detector}{block} {escape(a.subject)}: "
            f"{escape(a.explanation)}{more}"
        )


class JsonlSink:
    """One JSON object per line: ``{"delivery", "event", "alert"}``, appended and fsynced.
    On start it reads the delivery ids the file already holds, so a delivery repeated after a
    crash is not written twice."""

    kind = "jsonl"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"jsonl:{path.resolve()}"
        self.written: set[int] = set()
        if path.exists():
            with path.open("rb") as f:
                for line in f:
                    try:
                        self.written.add(int(json.loads(line)["delivery"]))
                    except (ValueError, KeyError, TypeError):
                        continue  # a line cut short by a crash: the delivery is redone

    def deliver(self, delivery: int, event: str, alert: StoredAlert, *, held: int = 0) -> None:
        if delivery in self.written:
            return
        line = json.dumps(payload(delivery, event, alert, held), sort_keys=True, default=str)
        try:
            with self.path.open("ab") as f:
                if f.tell() and not _ends_with_newline(self.path):
                    f.write(b"\n")  # after a torn last line
                f.write(line.encode() + b"\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise DeliveryError(f"cannot append to {self.path}: {exc}") from exc
        self.written.add(delivery)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


class WebhookSink:
    """POST each delivery as JSON, signed with HMAC-SHA256 over the body
    (``X-Proofmind-Signature: sha256=<hex>``, the secret from PROOFMIND_MONITOR_WEBHOOK_SECRET),
    with ``Idempotency-Key`` and a timeout (5 s by default, like Tenderly's). Any answer but
    2xx, a timeout or a refused connection is a failure to retry, not before the answer's
    Retry-After when it has one."""

    kind = "webhook"

    def __init__(self, url: str, secret: str | None = None, timeout: float = 5.0) -> None:
        self.url = url
        self.name = f"webhook:{url}"
        self.secret = (secret if secret is not None else os.environ.get(SECRET_ENV, "")).encode()
        self.timeout = timeout

    def deliver(self, delivery: int, event: str, alert: StoredAlert, *, held: int = 0) -> None:
        body = json.dumps(
            payload(delivery, event, alert, held), sort_keys=True, default=str
        ).encode()
        headers = {
            "Content-Type": "application/json",
            # a test (`monitor test-sinks`) is no delivery: a key of its own each time
            "Idempotency-Key": f"proofmind-test-{time.time_ns()}"
            if event == TEST_EVENT
            else f"proofmind-{delivery}",
            "User-Agent": "proofmind-monitor",
        }
        if self.secret:
            digest = hmac.new(self.secret, body, hashlib.sha256).hexdigest()
            headers[SIGNATURE_HEADER] = f"sha256={digest}"
        _post(self.url, self.timeout, data=body, headers=headers)


CHAT_LIMIT = {"slack": 3000, "discord": 2000, "telegram": 4096}  # characters of a message
TELEGRAM_TOKEN_ENV = "PROOFMIND_MONITOR_TELEGRAM_TOKEN"
TELEGRAM_API_ENV = "PROOFMIND_MONITOR_TELEGRAM_API"  # a local Bot API server instead
TELEGRAM_API = "https://api.telegram.org"


def url_digest(url: str) -> str:
    """What names a URL that is a secret (a webhook's key in its path) without showing it."""
    return hashlib.sha256(url.encode()).hexdigest()[:12]


def public_sink_name(name: str) -> str:
    """A sink's name as logs, ``/health`` and metrics show it: a webhook's URL cut to its
    scheme and host (no user, path or query, which may hold a key) and a digest of the URL,
    which tells two webhooks of one host apart:
    ``webhook:https://hooks.example.com/…#1a2b3c4d5e6f``. Other sinks' names are kept (the chat
    sinks' already hold a digest, not their URL). The store keeps the full name."""
    kind, _, url = name.partition(":")
    if kind != "webhook" or not url:
        return name
    return f"webhook:{_origin(url)}/…#{url_digest(url)}"


class ChatSink:
    """Each delivery as a message in a chat channel: through Slack's incoming webhook (Block
    Kit ``blocks`` in plain text, and ``{"text"}`` in mrkdwn for notifications), Discord's
    (``{"content"}``, Markdown, no mentions), or a Telegram bot's ``sendMessage`` to ``chat``
    (plain text). The message says the severity, detector, subject, the explanation, block,
    time and alert id; a retraction says so first. A webhook's URL and a bot's token are
    secrets: the sink's name (kept in the store, printed on start) holds a digest of the URL,
    or the chat id, and errors never show the URL's path. 429 (rate limited) and any other
    answer but 2xx are retried, not before the Retry-After the channel gives."""

    def __init__(self, kind: str, url: str, chat: str | None = None, timeout: float = 5.0) -> None:
        if kind not in CHAT_LIMIT:
            raise ValueError(f"unknown chat {kind!r}: {', '.join(CHAT_LIMIT)}")
        self.kind, self.url, self.chat, self.timeout = kind, url, chat, timeout
        tail = chat if chat is not None else url_digest(url)
        self.name = f"{kind}:{tail}"

    @classmethod
    def telegram(cls, chat: str, token: str, api: str | None = None) -> ChatSink:
        """A Telegram bot's messages to ``chat`` (a chat id, or a channel's @name)."""
        base = (api or os.environ.get(TELEGRAM_API_ENV) or TELEGRAM_API).rstrip("/")
        return cls("telegram", f"{base}/bot{token}/sendMessage", chat=chat)

    def message(self, event: str, alert: StoredAlert, held: int = 0) -> dict[str, Any]:
        limit = CHAT_LIMIT[self.kind]
        if self.kind == "slack":
            # the mrkdwn text is for notifications, and for apps that show no blocks
            text = chat_text(event, alert, _slack_escape, "*{}*", limit, held)
            return {"text": text, "blocks": slack_blocks(event, alert, held)}
        if self.kind == "telegram":
            text = chat_text(event, alert, str, "{}", limit, held)
            return {"chat_id": self.chat, "text": text, "disable_web_page_preview": True}
        text = chat_text(event, alert, _discord_escape, "**{}**", limit, held)
        return {"content": text, "allowed_mentions": {"parse": []}, "username": "proofmind"}

    def deliver(self, delivery: int, event: str, alert: StoredAlert, *, held: int = 0) -> None:
        message = self.message(event, alert, held)
        _post(self.url, self.timeout, json=message, headers={"User-Agent": "proofmind-monitor"})


ANSWER_BYTES = 64 * 1024  # of a failed answer's body read, at most: it is not shown


def _post(url: str, timeout: float, **request: Any) -> None:
    """POST to ``url``, or raise DeliveryError: without following a redirect (a 301 or 302
    would turn the POST into a bare GET), and reading at most `ANSWER_BYTES` of a failed
    answer's body (none of a 2xx), so a receiver cannot keep the monitor reading. A 429 or 503
    may say when to come back: Retry-After, or Telegram's ``{"parameters": {"retry_after":
    5}}``. An error never shows the URL's path or query (a key)."""
    import requests
    import urllib3

    try:
        with requests.post(
            url, timeout=timeout, allow_redirects=False, stream=True, **request
        ) as answer:
            if 200 <= answer.status_code < 300:
                return
            wait = _retry_after(answer.headers.get("Retry-After"))
            if wait is None and answer.status_code == 429:
                unreadable = (ValueError, LookupError, TypeError, urllib3.exceptions.HTTPError)
                with contextlib.suppress(*unreadable):
                    said = json.loads(answer.raw.read(ANSWER_BYTES, decode_content=True))
                    wait = _retry_after(str(said["parameters"]["retry_after"]))
            status, location = answer.status_code, answer.headers.get("Location")
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        said = _without_secret(f"{type(exc).__name__}: {exc}", url)
        raise DeliveryError(said[:240]) from exc
    raise _answer_error(status, wait, location)


def _without_secret(text: str, url: str) -> str:
    """``text`` with ``url``'s user, path and query (a webhook's key, a bot's token) left
    out."""
    parts = urlsplit(url)
    for secret in (parts.password, parts.query, parts.path if len(parts.path) > 1 else ""):
        if secret:
            text = text.replace(secret, "…")
    return text


def chat_parts(event: str, alert: StoredAlert, held: int = 0) -> tuple[str, str, str]:
    """A delivery as a chat message's three parts, unescaped: the headline (``HIGH depeg:
    FEI``, or ``RETRACTED …`` first), the explanation, and block, time and alert id (and the
    repeats a cooldown ``held`` back since the last message, if any)."""
    a = alert.alert
    head = f"{a.severity.upper()} {a.detector}: {a.subject}"
    if event == TEST_EVENT:
        head = "TEST: proofmind can post here"
    if event == "retraction":
        dropped = f" (a reorg dropped block {a.block})" if a.block is not None else ""
        head = f"RETRACTED{dropped}: {head}"
    when = datetime.fromtimestamp(a.time, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    where = f"block {a.block} · " if a.block is not None else ""
    more = f" · {held_text(held)}" if held else ""
    return head, a.explanation, f"{where}{when} · proofmind alert {alert.id}{more}"


def chat_text(
    event: str,
    alert: StoredAlert,
    escape: Callable[[str], str],
    bold: str,
    limit: int,
    held: int = 0,
) -> str:
    """A delivery as a chat message (`chat_parts`): the headline in bold, the explanation,
    then block, time and alert id; the explanation shortened to fit ``limit`` characters."""
    head, explanation, foot = chat_parts(event, alert, held)
    first, foot = bold.format(escape(head)), escape(foot)
    room = limit - len(first) - len(foot) - 2
    said = escape(explanation)  # escaped first: escapes lengthen it
    return "\n".join((first, _cut(said, room), foot))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def slack_blocks(event: str, alert: StoredAlert, held: int = 0) -> list[dict[str, Any]]:
    """The message as Slack's Block Kit blocks, in plain text (shown as written: mrkdwn has
    no escape for ``*``, ``_`` or ``~``): the headline as a header (150 characters at most),
    the explanation (3,000), then block, time and alert id in small print."""
    head, explanation, foot = chat_parts(event, alert, held)

    def plain(text: str, limit: int) -> dict[str, Any]:
        return {"type": "plain_text", "text": _cut(text, limit) or "-", "emoji": False}

    return [
        {"type": "header", "text": plain(head, 150)},
        {"type": "section", "text": plain(explanation, 3000)},
        {"type": "context", "elements": [plain(foot, 3000)]},
    ]


def _slack_escape(text: str) -> str:
    """The three characters Slack's mrkdwn wants escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _discord_escape(text: str) -> str:
    """Discord's Markdown characters (and a quote, heading or list mark at the start)
    backslashed, so a subject or explanation is shown as written."""
    return re.sub(r"^([>#-])", r"\\\1", re.sub(r"([\\*_~`|])", r"\\\1", text))


def _retry_after(header: str | None, now: float | None = None) -> float | None:
    """Retry-After in seconds from now: a number of seconds, or an HTTP date (RFC 9110, e.g.
    ``Wed, 21 Oct 2026 07:28:00 GMT``); None when absent or unreadable."""
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(header.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" or no zone: RFC 9110 dates are in GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class SinkPolicy:
    """``sink`` with what a run asks of it: only alerts of ``severity`` or above (and their
    retractions); and, with ``cooldown`` seconds, no alert of a detector on a subject within
    that time (by the alerts' own times) after one the sink got, unless it is more severe.
    What it passes over is handled, not sent: ``filtered`` or ``throttled`` in the outbox, and
    so are the retractions of those alerts. The next alert the sink gets says how many
    repeats were held back since the last one (``held``). The name is the sink's: its outbox
    rows are the same. The last alert sent per detector and subject is read from the store
    the first time it is needed, so a restart keeps counting from it."""

    KEPT = 10_000  # (detector, subject) pairs remembered; the store has the others

    def __init__(self, sink: Any, severity: str | None = None, cooldown: float = 0.0) -> None:
        if severity is not None and severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}: {', '.join(SEVERITIES)}")
        if not 0 <= cooldown < float("inf"):
            raise ValueError(f"a cooldown is 0 or more seconds, not {cooldown!r}")
        self.sink, self.severity, self.cooldown = sink, severity, float(cooldown)
        self.name = sink.name
        self.kind: str = getattr(sink, "kind", sink.name.partition(":")[0])
        self._lowest = SEVERITIES.index(severity) if severity is not None else 0
        self._sent: dict[tuple[str, str], tuple[float, int]] = {}
        self._held: dict[int, int] = {}  # alert id -> repeats held back since the last sent

    def passes_over(self, store: AlertStore, event: str, alert: StoredAlert) -> str | None:
        """``filtered`` or ``throttled`` when this delivery is not to be sent, else None."""
        a = alert.alert
        rank = SEVERITIES.index(a.severity)
        if rank < self._lowest:
            return "filtered"
        if not self.cooldown or event != "alert":  # a retraction: see `retraction_held`
            return None
        last = self._sent.get((a.detector, a.subject))
        if last is None:
            found = store.last_sent(self.name, a.detector, a.subject, a.time)
            if found is not None:
                last = self._remember(a.detector, a.subject, found[0], found[1])
        if last is not None and 0 <= a.time - last[0] < self.cooldown and rank <= last[1]:
            return "throttled"
        if last is not None and a.time >= last[0]:  # said with the alert: what was held
            repeats = store.held_back(self.name, a.detector, a.subject, last[0], a.time)
            if repeats:
                self._held[alert.id] = repeats
        return None

    def _remember(self, detector: str, subject: str, at: float, severity: str) -> tuple[float, int]:
        if len(self._sent) >= self.KEPT:  # forget the oldest half: the store still has them
            kept = sorted(self._sent.items(), key=lambda item: item[1][0])[self.KEPT // 2 :]
            self._sent = dict(kept)
        last = self._sent[(detector, subject)] = (at, SEVERITIES.index(severity))
        return last

    def deliver(self, delivery: int, event: str, alert: StoredAlert, *, held: int = 0) -> None:
        counted = self._held.pop(alert.id, 0) if event == "alert" else 0
        self.sink.deliver(delivery, event, alert, held=held or counted)
        a = alert.alert
        if not self.cooldown:
            return
        if event != "alert":  # a retracted alert holds nothing back: read the store again
            self._sent.pop((a.detector, a.subject), None)
            return
        last = self._sent.get((a.detector, a.subject))
        if last is None or a.time >= last[0]:
            self._remember(a.detector, a.subject, a.time, a.severity)


class AtLeast(SinkPolicy):
    """``sink`` for alerts of ``severity`` or above only (and their retractions)."""

    def __init__(self, sink: Any, severity: str) -> None:
        super().__init__(sink, severity=severity)


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` (X-Proofmind-Signature) signs ``body`` with ``secret`` — for
    receivers."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return header is not None and hmac.compare_digest(expected, header)


TEST_EVENT = "test"


def probe_alert(now: float | None = None) -> StoredAlert:
    """What `monitor test-sinks` sends (``event`` "test"): an info alert never stored (id 0),
    which a receiver can tell from real ones by its event and its detector, ``test``."""
    at = time.time() if now is None else now
    alert = Alert(
        detector="test",
        kind="test",
        severity="info",
        subject="proofmind",
        time=at,
        score=0.0,
        explanation="A test from `proofmind monitor test-sinks`: alerts will reach this sink.",
        evidence={"test": True},
    )
    return StoredAlert(id=0, alert=alert, status="active", stored_at=at)


def probe_sinks(sinks: list[Any]) -> list[tuple[str, str | None]]:
    """The test alert sent once to each sink, no retry: (sink name, error or None)."""
    outcome: list[tuple[str, str | None]] = []
    for sink in sinks:
        try:
            sink.deliver(0, TEST_EVENT, probe_alert())
        except DeliveryError as exc:
            outcome.append((sink.name, str(exc)))
        else:
            outcome.append((sink.name, None))
    return outcome


DELIVERY_RESULTS = ("delivered", "retried", "dead", *HANDLED)  # HANDLED: not sent


def retraction_held(store: AlertStore, sink: str, alert: StoredAlert) -> str | None:
    """A retraction goes where its alert went: None (send it) when ``sink`` got the alert;
    else how the alert's delivery was handled (``muted``, ``filtered``, ``throttled``), or
    ``skipped`` when the sink never got it (a dead letter, or a sink added since the alert).
    A receiver is not told to drop an alert it does not know."""
    status = store.delivery_status(alert.id, sink)
    if status in ("delivered", "pending"):  # (pending is not met: the alert goes first)
        return None
    return status if status in HANDLED else "skipped"


def deliver_due(
    store: AlertStore,
    sinks: list[Any],
    *,
    max_attempts: int = 8,
    backoff: float = 1.0,
    max_backoff: float = 300.0,
    deadline: float | None = None,
) -> dict[str, int]:
    """Deliver what is due, sink by sink, in outbox order; a failure stops that sink's pass
    (so a receiver sees deliveries in order) and is retried with exponential backoff, and
    after ``max_attempts`` the delivery goes to the dead letters (logged, kept in the
    store); so does one whose body the receiver refused (413, 422) at once, and the sink's
    next delivery goes. A delivery of an alert a mute covers (stored in it, or sent while it
    holds) is not sent (status ``muted``), nor one a `SinkPolicy` passes over (``filtered``,
    ``throttled``); a retraction goes where its alert went (`retraction_held`). Returns
    counts of each."""
    counts = dict.fromkeys(DELIVERY_RESULTS, 0)
    mutes = store.mutes()  # once a pass: a mute added meanwhile counts from the next pass
    for sink in sinks:
        passes_over = getattr(sink, "passes_over", None)  # a SinkPolicy's floor and cooldown
        while deadline is None or time.monotonic() < deadline:
            due = store.pending(sink.name)
            if not due:
                break
            failed = False
            for delivery, event, attempts, alert in due:
                if event != "alert":  # where its alert went, muted or not
                    held = retraction_held(store, sink.name, alert)
                elif any(mute.covers(alert, at=time.time()) for mute in mutes):
                    held = "muted"
                else:
                    held = None if passes_over is None else passes_over(store, event, alert)
                if held is not None:
                    store.handled([delivery], held)
                    counts[held] += 1
                    continue
                try:
                    sink.deliver(delivery, event, alert)
                except DeliveryError as exc:
                    if exc.refused or attempts + 1 >= max_attempts:
                        store.failed(delivery, str(exc), None)
                        counts["dead"] += 1
                        log.error(
                            "%s: delivery %d (alert %d) given up after %d attempt(s): %s; "
                            "kept as a dead letter (`monitor redeliver` once fixed)",
                            public_sink_name(sink.name), delivery, alert.id, attempts + 1, exc,
                        )  # fmt: skip
                        continue
                    wait = min(max_backoff, backoff * 2**attempts)
                    if exc.retry_after is not None:  # the receiver said when (429)
                        wait = max(wait, min(exc.retry_after, max_backoff))
                    store.failed(delivery, str(exc), time.time() + wait)
                    counts["retried"] += 1
                    log.warning(
                        "%s: delivery %d failed (%s); retry %d in %.1f s",
                        public_sink_name(sink.name), delivery, exc, attempts + 1, wait,
                    )  # fmt: skip
                    failed = True
                    break
                store.delivered([delivery])
                counts["delivered"] += 1
            if failed:
                break
    return counts
