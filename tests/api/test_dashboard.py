"""The web dashboard in a real Chromium (Playwright): the overview loads without console
errors, the lineage graph shows model → run → dataset, a tampered file dropped on the verify
page shows its differing row, a stored alert reaches the live feed within 2 s, a write needs
an API key, and every page loads within 1 s with 100,000 alerts and 10,000 records."""

from __future__ import annotations

import os
import re
import statistics
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from proofmind.app.apikeys import create_key
from proofmind.app.oracle import QUEUE_STATES
from proofmind.app.provenance import track_run
from proofmind.chain.base import Chain
from proofmind.monitor.api import Alert
from proofmind.monitor.store import AlertStore
from proofmind.provenance import Ledger, register_model
from proofmind.workspace import Workspace

from .browser import (
    LOW_CONTRAST_JS,
    REPO,
    chromium_path,
    decisions,
    oracle_queue,
    serve,
    sybil_report,
)
from .conftest import ROWS, Lineage

pytestmark = [pytest.mark.browser, pytest.mark.node]
PAGES = ("", "lineage", "verify", "oracle", "alerts", "sybil", "rewards", "agents")


def shots(tmp_path: Path) -> Path:
    """docs/img when PROOFMIND_SCREENSHOTS=1 (to refresh the README's pictures), else a
    temporary folder: a test run leaves the working tree as it was."""
    return REPO / "docs" / "img" if os.environ.get("PROOFMIND_SCREENSHOTS") else tmp_path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-zygote", "--disable-quic", "--use-gl=angle", "--use-angle=swiftshader"],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    opened.problems = []
    opened.on(
        "console",
        lambda m: opened.problems.append(m.text) if m.type == "error" else None,
    )
    opened.on("pageerror", lambda e: opened.problems.append(str(e)))
    yield opened
    context.close()


@pytest.fixture
def demo(ws: Workspace, chain: Chain, tmp_path: Path) -> Lineage:
    """A workspace like the demo's: two datasets → a training run → a model with a card, all
    anchored on the devnet. ``keys``: the record keys by kind (``dataset``: train.csv)."""
    data = tmp_path / "data" / "train.csv"
    data.parent.mkdir()
    data.write_text("\n".join(ROWS) + "\n")
    labels = tmp_path / "data" / "labels.csv"
    labels.write_text(
        "address,is_fraud\n" + "".join(f"0x{n:040x},{n % 3 == 0:d}\n" for n in range(40))
    )
    model = tmp_path / "fraud-model.bin"
    with track_run("fraud-demo", datasets=[data, labels], workspace=ws, anchor=False) as run:
        run.log_params(lr=0.1)
        model.write_bytes(bytes(range(256)) * 4)
        run.log_artifact(model)
    register_model(ws, model, run=run, card={"intended_use": "tests"}, owner=None)
    assert len(Ledger(ws).anchor(chain).anchored) == 4
    keys = {r.kind_name: r.key for r in Ledger(ws).all() if r.name != "labels"}
    return Lineage(ws, chain, data, model, keys)


def ready(page: Any, url: str) -> float:
    """Open ``url`` and wait until its page has drawn its data; the seconds it took."""
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    return time.perf_counter() - started


def alert(n: int) -> Alert:
    return Alert(
        detector="watch",
        severity=("high", "medium", "critical")[n % 3],  # type: ignore[arg-type]
        subject=f"0x{n:040x}",
        time=1_700_000_000.0 + n,
        score=float(n),
        explanation=f"transfer of {n} ETH from a watched address",
        evidence={"n": n},
        block=100 + n,
        kind="transfer",
    )


def test_overview_loads_without_console_errors(demo: Lineage, page: Any) -> None:
    with serve(demo.ws, connect=lambda: demo.chain) as url:
        ready(page, url + "/")
        cards = page.locator(".card").all_inner_texts()
        assert any(text.startswith("4\non chain") for text in cards), cards
        assert "1\nrun" in cards and "1\nmodel" in cards, cards  # one is singular
        assert f"chain 31337, head block {demo.chain.w3.eth.block_number}" in page.inner_text(
            "#chain"
        )
        assert page.locator("a[aria-current=page]").inner_text() == "Overview"
        # keyboard: the first Tab reaches the skip link, which moves focus to the content
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
        page.keyboard.press("Enter")
        assert page.evaluate("() => document.activeElement.id") == "main"
        page.keyboard.press("Tab")  # from the content on, not back to the navigation
        assert page.evaluate("() => document.activeElement.closest('nav')") is None
        assert page.evaluate(LOW_CONTRAST_JS) == []
        assert page.problems == []


def test_lineage_graph_model_run_dataset(demo: Lineage, page: Any, tmp_path: Path) -> None:
    with serve(demo.ws, connect=lambda: demo.chain) as url:
        ready(page, url + "/lineage")
        kinds = page.locator("#lineage-list li").evaluate_all("e => e.map(x => x.dataset.kind)")
        assert kinds == ["model", "run", "dataset", "dataset"]
        edges = page.get_attribute("#graph", "data-edges") or ""
        assert set(edges.split()) == {"dataset>run", "run>model"}
        graph = page.evaluate(
            "() => ({nodes: pmLineageGraph.nodes().map(n => n.data('label')),"
            " edges: pmLineageGraph.edges().length})"
        )
        assert len(graph["nodes"]) == 4 and graph["edges"] == 3
        # click the run in the drawn graph: its details, with its on-chain status
        run_key = demo.keys["run"]
        box = page.locator("#graph").bounding_box()
        at = page.evaluate(f"() => pmLineageGraph.$id('r{run_key}').renderedPosition()")
        page.mouse.click(box["x"] + at["x"], box["y"] + at["y"])
        assert page.inner_text("#detail h2") == "run fraud-demo"
        assert "on chain" in page.inner_text("#detail")
        assert re.search(r"used by\s+model ", page.inner_text("#detail"))
        # a dataset's lineage runs downwards too: the run that used it, the model it made
        dataset = demo.keys["dataset"]
        page.locator(f"#lineage-list li[data-key='{dataset}'] button").click()
        page.click("#reroot")
        page.wait_for_function("() => pmLineageGraph.nodes().length === 3")
        kinds = page.locator("#lineage-list li").evaluate_all("e => e.map(x => x.dataset.kind)")
        assert kinds == ["model", "run", "dataset"]
        edges = page.get_attribute("#graph", "data-edges") or ""
        assert set(edges.split()) == {"dataset>run", "run>model"}
        page.goto(url + "/lineage")
        page.wait_for_selector("body[data-ready=true]")
        # the text list is keyboard-operable and says the same
        page.locator("#lineage-list li[data-kind=dataset] button").first.focus()
        page.keyboard.press("Enter")
        assert page.inner_text("#detail h2").startswith("dataset ")
        page.locator("#lineage-list li[data-kind=model] button").click()
        page.screenshot(path=str(shots(tmp_path) / "dashboard-lineage.png"), full_page=True)
        assert page.problems == []


def test_tampered_file_dropped_on_verify_shows_the_row(demo: Lineage, page: Any) -> None:
    tampered = list(ROWS)
    tampered[7] = tampered[7].replace(",1,", ",0,")  # data row 6, line 8 of the file
    content = "\n".join(tampered) + "\n"
    # A listener from the start arms Chromium's file-chooser interception long before the
    # keyboard opens one; arming it inside expect_file_chooser races the key press.
    page.on("filechooser", lambda _chooser: None)
    with serve(demo.ws, connect=lambda: demo.chain) as url:
        ready(page, url + "/verify")
        page.fill("#record", str(demo.keys["dataset"]))
        page.evaluate(
            """(text) => {
                const data = new DataTransfer();
                data.items.add(new File([text], 'train.csv', {type: 'text/csv'}));
                const zone = document.getElementById('drop');
                zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: data, bubbles: true}));
                zone.dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true}));
            }""",
            content,
        )
        page.wait_for_selector("#verdict")
        assert "Does not match" in page.inner_text("#verdict")
        problems = page.locator("li.problem").all_inner_texts()
        assert any("row 6 differs (line 8 of train.csv" in p for p in problems), problems
        assert page.inner_text("pre.line") == "8: " + tampered[7]
        # the untouched file matches
        page.evaluate(
            """(text) => {
                const data = new DataTransfer();
                data.items.add(new File([text], 'train.csv'));
                document.getElementById('drop').dispatchEvent(
                    new DragEvent('drop', {dataTransfer: data, bubbles: true}));
            }""",
            "\n".join(ROWS) + "\n",
        )
        page.wait_for_function(
            "() => document.querySelector('#verdict')?.textContent.includes('Matches')"
        )
        # from the keyboard: Enter on the drop zone opens the file chooser
        page.focus("#drop")
        with page.expect_file_chooser() as chooser:
            page.keyboard.press("Enter")
        chooser.value.set_files(
            {"name": "copy.csv", "mimeType": "text/csv", "buffer": content.encode()}
        )
        page.wait_for_function(
            "() => document.querySelector('#verdict')?.textContent.includes('Does not match')"
        )
        assert "(copy.csv)" in page.inner_text("#verdict")


def test_stored_alert_reaches_the_live_feed(ws: Workspace, page: Any, tmp_path: Path) -> None:
    store = AlertStore.for_workspace(ws.root)
    store.add_many([(alert(n), None) for n in range(1, 13)])
    with serve(ws) as url:
        ready(page, url + "/alerts")
        page.wait_for_selector("#stream-status:text('live')")
        for n in (13, 14, 15):
            stored = time.perf_counter()
            new_id = store.add(alert(n))
            page.wait_for_selector(f"#feed li[data-id='{new_id}']", timeout=2_000)
            assert time.perf_counter() - stored <= 2.0
        assert page.locator("#feed li").count() == 3
        assert "#15" in page.locator("#feed li").first.inner_text()
        page.wait_for_selector("section[aria-label='Stored alerts'] [role=status]:text('of 15')")
        page.screenshot(path=str(shots(tmp_path) / "dashboard-alerts.png"), full_page=True)
        # what a detector writes is shown as text, never run as markup
        hostile = store.add(replace(alert(16), explanation="<img src=x onerror='window.pwned=1'>"))
        item = page.wait_for_selector(f"#feed li[data-id='{hostile}']", timeout=2_000)
        assert "<img src=x onerror='window.pwned=1'>" in item.inner_text()
        assert page.evaluate("() => window.pwned") is None
        assert page.locator("#feed img").count() == 0
        assert page.problems == []
    store.close()


def test_a_write_without_an_api_key_is_refused(ws: Workspace, page: Any) -> None:
    _, token = create_key(ws.state, "dashboard")
    with serve(ws) as url:
        ready(page, url + "/oracle")
        page.fill("#values", "0.1, 0.2")
        page.click("#request-form button[type=submit]")
        box = page.wait_for_selector("#request-outcome .error")
        assert "401" in box.inner_text() and "needs an API key" in box.inner_text()
        page.fill("#api-key", "pmk_not-a-key")
        page.click("#request-form button[type=submit]")
        page.wait_for_selector("#request-outcome .error:has-text('unknown or revoked')")
        # a valid key gets past the key check (and then fails on the missing model)
        page.fill("#api-key", token)
        page.click("#request-form button[type=submit]")
        page.wait_for_selector("#request-outcome .error:not(:has-text('401'))")
    assert not (ws.root / "oracle-node.sqlite").exists()


def test_every_page_loads_within_1s_at_scale(ws: Workspace, chain: Chain, page: Any) -> None:
    store = AlertStore.for_workspace(ws.root)
    store.add_many(
        [
            (Alert("watch", "high", f"0x{n % 997:040x}", 1.7e9 + n, 1.0, "x", {}, n, "t"), None)
            for n in range(100_000)
        ]
    )
    store.close()
    with ws.state.transaction() as conn:
        conn.executemany(
            "INSERT INTO records(key, kind, name, content_hash, uri, parents, path, status,"
            " created_at) VALUES (?, ?, ?, ?, '', ?, ?, 'pending', 0)",
            [(k, k % 4, f"r{k}", f"0x{k:064x}", f"[{k - 1}]" if k % 4 and k > 1 else "[]",
              str(Path(ws.root.parent, f"r{k}"))) for k in range(1, 10_001)],
        )  # fmt: skip
    decisions(ws, 20_000)
    oracle_queue(ws, 20_000)
    sybil_report(ws.root.parent / "sybil-out", candidates=100_000)
    with serve(ws, connect=lambda: chain, sybil_report=Path("sybil-out")) as url:
        ready(page, url + "/verify")  # a first load warms the browser's cache of the static files
        # the median of three loads of each page: one descheduled moment of a machine shared
        # with other jobs does not decide it (the slowest load is printed too)
        loads = {name or "overview": [ready(page, f"{url}/{name}")] for name in PAGES}
        for _ in range(2):
            for name in PAGES:
                loads[name or "overview"].append(ready(page, f"{url}/{name}"))
        timings = {name: statistics.median(times) for name, times in loads.items()}
        ready(page, url + "/lineage")
        assert page.locator("#record-list li").count() == 20
        assert page.locator("#lineage-list li").count() >= 2
        ready(page, url + "/oracle")
        newest = QUEUE_STATES[20_000 % len(QUEUE_STATES)]
        first = page.locator("ol.timeline").first
        assert first.get_attribute("aria-label") == f"request 20000: {newest}"
        assert page.locator("ol.timeline").count() == 25
        for state, done, last in (
            ("done", ["requested", "answered", "proposed / proved", "finalized"], "finalized"),
            ("disputed", ["requested", "answered", "proposed / proved"], "disputed"),
            ("failed", ["requested"], "failed"),
        ):
            page.select_option("#state", state)
            page.wait_for_function(
                f"() => document.querySelector('ol.timeline')?.getAttribute('aria-label')"
                f".endsWith(': {state}')"
            )
            first = page.locator("ol.timeline").first
            assert first.locator("li.done").all_inner_texts() == done
            assert first.locator("li").last.inner_text() == last
        ready(page, url + "/sybil")
        assert "33,330 of 100,000 candidates flagged in 3,333 clusters" in page.inner_text("#view")
        ready(page, url + "/agents")
        assert page.locator("[data-status]").count() == 50
    shown = ", ".join(f"{k} {v:.3f} (max {max(loads[k]):.3f})" for k, v in timings.items())
    print("page load seconds:", shown)
    assert max(timings.values()) <= 1.0, shown
