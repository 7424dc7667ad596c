"""Helpers the endpoint modules share: cacheable JSON with an ETag, and pages."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import Request, Response

from proofmind.api.schemas import Problem
from proofmind.app.paging import Page

T = TypeVar("T")

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {"application/problem+json": {}}}
    for code in (400, 401, 404, 429)
}


def services(request: Request) -> Any:
    return request.app.state.services


def json_body(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True, default=str).encode()


def cached(
    request: Request, doc: Any, *, stable: bool, media_type: str = "application/json"
) -> Response:
    """``doc`` with a strong ETag; 304 when the client holds it already. ``stable``: the
    resource is anchored on chain and may be cached for a while; otherwise the client
    revalidates every time (cheap: a 304 carries no body)."""
    body = doc if isinstance(doc, bytes) else json_body(doc)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": "public, max-age=60" if stable else "no-cache",
    }
    held = request.headers.get("if-none-match")
    if held is not None:
        tags = {t.strip().removeprefix("W/") for t in held.split(",")}
        if "*" in tags or etag in tags:
            return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def page_response(
    request: Request, page: Page[T], view: Callable[[T], Any], extra: Iterable[tuple[str, Any]] = ()
) -> Response:
    doc = {"items": [view(item) for item in page.items], "next_cursor": page.next_cursor}
    doc |= dict(extra)
    headers = {}
    if page.next_cursor is not None:
        query = dict(request.query_params) | {"cursor": page.next_cursor}
        headers["Link"] = f'<{request.url.path}?{urlencode(query)}>; rel="next"'
    return Response(json_body(doc), media_type="application/json", headers=headers)
