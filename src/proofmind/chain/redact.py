"""Keep the secrets that node URLs carry out of every message, error and log line.

Hosted providers put the API key in the URL: as a path segment (``/v3/<key>``), in the query
(``?apikey=<key>``) or as basic-auth credentials (``user:<password>@``). Transport errors quote
the URL they failed on (requests: ``... with url: /v3/<key>``), and web3 and urllib3 log it at
DEBUG level. Every message proofmind builds about a node goes through :func:`redact`, and
:func:`protect_transport_logs` filters what the HTTP libraries log.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

MASK = "***"

# A path segment is kept only when it reads as a route word ("v3", "rpc", "eth-mainnet"); anything
# with digits, capitals, other characters or length is masked: API keys look like that.
_ROUTE_WORD = re.compile(r"v\d{1,2}|[a-z]+(?:[-_.][a-z]+)*")
_MAX_ROUTE_WORD = 24
# a node URL in free text (http, https, ws, wss: not ipfs:// or file:// record URIs) ends before
# a space, a quote, a bracket or a trailing comma/colon/full stop
_URL = re.compile(r"(?i:https?|wss?)://[^\s'\"<>`()\[\]{},;]+(?<![.:])")
# a request target as urllib3 logs it and requests quotes it: '"POST /v3/<key> HTTP/1.1"',
# "with url: /v3/<key> (Caused by ...)"
_REQUEST_TARGET = re.compile(r"(?:(?<=GET )|(?<=POST )|(?<=url: ))/[^\s'\"]*")
# shorter pieces are not searched for in free text (masking every "1" would garble messages);
# redact_url still masks them in the URL itself
_MIN_SECRET = 4
_MIN_PATH_SECRET = 8


def redact_url(url: str) -> str:
    """``url`` without credentials, query or fragment, and with key-like path segments masked:
    what may be shown to a user or written to a log."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:  # not a number: shown as it is, it holds no credentials
        port = None
        netloc = parts.netloc.rsplit("@", 1)[-1]
    if port:
        netloc += f":{port}"
    return urlunsplit((parts.scheme, netloc, _redact_path(parts.path), "", ""))


def url_secrets(url: str) -> list[str]:
    """The pieces of ``url`` that may be secret, longest first (each also URL-decoded)."""
    parts = urlsplit(url)
    found: set[str] = set()
    if parts.password:
        found.add(parts.password)
    if parts.username:
        found.add(parts.username)
    if parts.netloc and "@" in parts.netloc:
        found.add(parts.netloc.rsplit("@", 1)[0])
    found.update(
        s for s in parts.path.split("/") if len(s) >= _MIN_PATH_SECRET and not _is_route_word(s)
    )
    if parts.query:
        found.add(parts.query)
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            found.update((key, value))
    if parts.fragment:
        found.add(parts.fragment)
    found |= {unquote(s) for s in found}
    return sorted((s for s in found if len(s) >= _MIN_SECRET), key=len, reverse=True)


def redact(text: str, *urls: str) -> str:
    """``text`` with every secret of ``urls`` masked, and every URL or request path in it
    reduced to what :func:`redact_url` shows."""
    for url in urls:
        if url:
            text = text.replace(url, redact_url(url))
            for secret in url_secrets(url):
                text = text.replace(secret, MASK)
    text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    return _REQUEST_TARGET.sub(lambda m: _redact_target(m.group(0)), text)


def _is_route_word(segment: str) -> bool:
    return len(segment) <= _MAX_ROUTE_WORD and _ROUTE_WORD.fullmatch(segment) is not None


def _redact_path(path: str) -> str:
    return "/".join(s if not s or _is_route_word(s) else MASK for s in path.split("/"))


def _redact_target(target: str) -> str:
    path = target.split("?", 1)[0].split("#", 1)[0]
    return _redact_path(path)


class _RedactingFilter(logging.Filter):
    """Rewrites a record's message in place, so every handler it reaches sees the redacted text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


# the loggers that write node URLs (web3 at DEBUG: "Making request HTTP. URI: ...", urllib3:
# '"POST /v3/<key> HTTP/1.1" 200'); a filter on a logger applies to what is logged on it
_TRANSPORT_LOGGERS = (
    "web3.providers.HTTPProvider",
    "web3.providers.AsyncHTTPProvider",
    "web3._utils.http_session_manager.HTTPSessionManager",
    "urllib3.connectionpool",
    "aiohttp.client",
)
_FILTER = _RedactingFilter()


def protect_transport_logs() -> None:
    """Redact node URLs in what the HTTP libraries log. Idempotent; logging is process-wide,
    so this is too."""
    for name in _TRANSPORT_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
