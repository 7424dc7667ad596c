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

from proofmind.agents.log import DecisionLog
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


# -- workspaces with something to show ----------------------------------------------------

SAFE, GUARD = "0x" + "5a" * 20, "0x" + "6b" * 20


def decisions(ws: Workspace, count: int = 60) -> None:
    """``count`` decisions of the policy depeg: every third a noop, the last but one
    executed, the one before refused by the guard."""
    log = DecisionLog.for_workspace(ws.root)
    log.add_agent("treasury", 31337, SAFE, GUARD)
    rows = []
    for n in range(1, count + 1):
        action = {"to": "0x" + "77" * 20, "value": "0", "data": "0x"} if n % 3 else None
        record = {
            "policy": "depeg",
            "alert": {"id": n, "detector": "depeg", "severity": "high", "kind": "depeg"},
            "action": action,
            "explanation": f"price at {0.9 - n / 1000:.3f} below 0.95",
        }
        rows.append((f"0x{n:064x}", n, record, "decided" if action else "noop"))
    log.record(rows, policy="depeg", cursor=count)
    log.update(f"0x{count - 1:064x}", "executed", tx_hash="0x" + "ab" * 32)
    log.update(f"0x{count - 2:064x}", "refused", outcome={"error": "OverCap"})
    log.close()


def sybil_report(folder: Path, candidates: int = 300) -> Path:
    """A `sybil detect` output folder: with 300 candidates, communities 0-9 flagged, the larger
    the lower the id; with more, a third of ``candidates // 10`` communities flagged."""
    folder.mkdir(parents=True)
    lines = ["address,community,community_candidates,flagged,supervised_score"]
    span = max(30, candidates // 10)
    for n in range(candidates):
        community = n % span
        flagged = community < span // 3 and (span > 30 or n < 150 + community * 10)
        lines.append(f"0x{n:040x},{community},10,{int(flagged)},")
    (folder / "scores.csv").write_text("\n".join(lines) + "\n")
    (folder / "report.md").write_text(
        "# Sybil report\n\n- transfer graph: 900 addresses, 2,000 edges after removing 3 hubs\n"
        "- candidates: 300; flagged: 100 in 10 clusters\n"
        "- Merkle root of the flagged list: `0xabc`\n\n## Why communities were flagged\n\n"
        "## Largest flagged clusters (top 20)\n\n"
        "### Cluster 3: 6 addresses (0x00…)\n- 5 of the 6 addresses transacted with 0xdeadbeef…\n"
        "- first used the bridge within 2.0 hours of each other\n\n"
        "### Cluster 4: 6 addresses (0x00…)\n- (no shared counterparty)\n\n"
    )
    return folder


def oracle_queue(ws: Workspace, count: int) -> None:
    """An oracle node's queue with ``count`` requests in every state."""
    import json
    import sqlite3

    from proofmind.app.oracle import NODE_DB, QUEUE_STATES
    from proofmind.oracle.node._queue import _SCHEMA

    conn = sqlite3.connect(ws.root / NODE_DB)
    conn.executescript(_SCHEMA)
    with conn:
        conn.executemany(
            "INSERT INTO oracle_requests(request_id, model_id, mode, input, block, deadline, "
            "state, output, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
            [
                (n, "0x" + "ab" * 32, 1 + n % 2, json.dumps([n, 2 * n]), 10 + n, 10_000 + n,
                 QUEUE_STATES[n % len(QUEUE_STATES)], json.dumps([n % 7]), 1.7e9 + n)
                for n in range(1, count + 1)
            ],
        )  # fmt: skip
    conn.close()


# Text whose contrast with its background is below WCAG AA (4.5:1; 3:1 for large text).
LOW_CONTRAST_JS = """() => {
  const rgba = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = (node) => {
    for (let e = node; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const bad = [];
  for (const e of document.querySelectorAll('body *')) {
    if (!e.offsetParent && getComputedStyle(e).position !== 'fixed') continue;
    const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const style = getComputedStyle(e);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    const [a, b] = [lum(rgba(style.color).slice(0, 3)), lum(background(e))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const text = e.textContent.trim().slice(0, 30);
    if (ratio < (large ? 3 : 4.5)) bad.push(`${e.tagName} "${text}" ${ratio.toFixed(2)}`);
  }
  return bad;
}"""
