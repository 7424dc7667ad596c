"""What the dashboard's browser tests share: a Chromium found offline (npm's
@sparticuz/chromium, or a system chromium), and the API served by uvicorn in a thread."""

from __future__ import annotations

import functools
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from proofmind.chain.base import Chain
from proofmind.errors import ConfigError
from proofmind.settings import ApiSettings
from proofmind.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
_UNPACK = (
    "const m = await import('@sparticuz/chromium');console.log(await m.default.executablePath());"
)


@functools.cache
def chromium_path() -> str:
    """The Chromium binary: npm's @sparticuz/chromium (installed by `make setup`) unpacks one;
    else a system `chromium` (Debian's package)."""
    if (REPO / "node_modules" / "@sparticuz" / "chromium").is_dir():
        done = subprocess.run(
            ["node", "--input-type=module", "-e", _UNPACK],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        path = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
        if done.returncode == 0 and Path(path).is_file():
            return path
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(
        "no Chromium for the browser tests: run `make setup` (npm ci installs "
        "@sparticuz/chromium) or `apt-get install chromium`"
    )


@contextmanager
def serve(
    ws: Workspace, connect: Callable[[], Chain] | None = None, **settings: object
) -> Iterator[str]:
    """The API and dashboard over ``ws`` on a free port, in a thread; yields its URL."""
    import uvicorn

    from proofmind.api import create_app

    def no_chain() -> Chain:
        # a workspace of its own would start a devnet that outlives the test
        raise ConfigError("this test serves no chain", hint="pass connect=")

    app = create_app(
        ws,
        ApiSettings(sse_poll_seconds=0.1, rate_per_second=10_000, rate_burst=10_000, **settings),  # type: ignore[arg-type]
        connect=connect or no_chain,
    )
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        app.state.services.end_streams()
        server.should_exit = True
        thread.join(10)
