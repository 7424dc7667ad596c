"""The web dashboard: one HTML shell per page and the static files it loads, all shipped in
the package (no CDN). The pages read the same /api/v1 endpoints as any other client."""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(str(resources.files("proofmind.api").joinpath("static")))
PAGES = {
    "": "Overview",
    "lineage": "Lineage",
    "verify": "Verify",
    "oracle": "Oracle requests",
    "alerts": "Live alerts",
    "sybil": "Sybil clusters",
    "rewards": "Reward epochs",
    "agents": "Agent decisions",
}
# scripts only from here; cytoscape sets inline styles on its canvas container
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)


def _shell(page: str, title: str, template: str) -> str:
    nav = "\n".join(
        f'<li><a href="/{slug}"{" aria-current=page" if slug == page else ""}>{name}</a></li>'
        for slug, name in PAGES.items()
    )
    return (
        template.replace("{{title}}", html.escape(title))
        .replace("{{page}}", page or "overview")
        .replace("{{nav}}", nav)
    )


def install(app: FastAPI) -> None:
    """Serve the dashboard at / (overview), /lineage, /verify, … and its files at /static."""
    template = (STATIC / "shell.html").read_text(encoding="utf-8")
    headers = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff"}

    def add(slug: str, title: str) -> None:
        body = _shell(slug, title, template)

        async def page() -> HTMLResponse:
            return HTMLResponse(body, headers=headers | {"Cache-Control": "no-cache"})

        page.__doc__ = f"The dashboard's {title.lower()} page."
        name = f"page_{slug or 'home'}"
        app.add_api_route(f"/{slug}", page, methods=["GET"], include_in_schema=False, name=name)

    for slug, title in PAGES.items():
        add(slug, title)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
