"""The read endpoints the dashboard adds (agent decisions, sybil clusters, contracts) and
their pages in a real Chromium, on a phone-sized screen too."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from proofmind.chain.base import Chain
from proofmind.workspace import Workspace

from .browser import GUARD, LOW_CONTRAST_JS, SAFE, decisions, serve, sybil_report
from .conftest import MakeApi
from .test_alerts_serve import served  # noqa: F401  (`proofmind serve` as a process)
from .test_dashboard import browser, ready  # noqa: F401  (the module's shared Chromium)
from .test_fraud_api import accounts  # noqa: F401  (a trained fraud model and its tables)


def test_decisions_pages_and_filters(ws: Workspace, make_api: MakeApi) -> None:
    api, http = make_api()
    assert http.get("/api/v1/agents/decisions").json() == {"items": [], "next_cursor": None}
    assert not (ws.root / "agents").exists()  # reading never creates the log
    decisions(ws)
    assert [d["seq"] for d in api.iter_decisions(status="noop")] == list(range(60, 0, -3))
    assert api.agents()["counts"]["refused"] == 1
    first = http.get("/api/v1/agents/decisions?limit=25").json()
    assert [d["seq"] for d in first["items"]] == list(range(60, 35, -1))
    seen = [d["seq"] for d in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = http.get(f"/api/v1/agents/decisions?limit=25&cursor={cursor}").json()
        seen += [d["seq"] for d in page["items"]]
        cursor = page["next_cursor"]
    assert seen == list(range(60, 0, -1))
    refused = http.get("/api/v1/agents/decisions?status=refused").json()["items"]
    assert [(d["seq"], d["guard"], d["outcome"]) for d in refused] == [
        (58, "refused", {"error": "OverCap"})
    ]
    summary = http.get("/api/v1/agents").json()
    assert summary["agents"] == [
        {"name": "treasury", "chain_id": 31337, "safe": SAFE, "guard": GUARD}
    ]
    assert summary["counts"] == {"decided": 38, "noop": 20, "executed": 1, "refused": 1}
    bad = http.get("/api/v1/agents/decisions?status=maybe")
    assert bad.status_code == 400 and "unknown decision status" in bad.json()["detail"]
    assert http.get("/api/v1/agents/decisions?cursor=xyz").status_code == 400


def test_sybil_clusters_from_a_report_folder(ws: Workspace, make_api: MakeApi) -> None:
    _, http = make_api()
    assert http.get("/api/v1/sybil/report").json() == {"configured": False}
    missing = http.get("/api/v1/sybil/clusters")
    assert missing.status_code == 404 and "no sybil report" in missing.json()["detail"]
    folder = sybil_report(ws.root.parent / "reports" / "sybil")
    api, http = make_api(sybil_report=Path("reports/sybil"))
    assert api.sybil_clusters(limit=1)["items"][0]["size"] == 8  # community 9: 9, 39, … 219
    report = http.get("/api/v1/sybil/report").json()
    assert report["candidates"] == 300 and report["clusters"] == 10
    assert report["summary"][0].startswith("transfer graph: 900 addresses")
    page = http.get("/api/v1/sybil/clusters?limit=4").json()
    assert [c["size"] for c in page["items"]] == sorted([c["size"] for c in page["items"]])[::-1]
    everything = page["items"]
    while page["next_cursor"]:
        page = http.get(f"/api/v1/sybil/clusters?limit=4&cursor={page['next_cursor']}").json()
        everything += page["items"]
    assert len(everything) == 10 and sum(c["size"] for c in everything) == report["flagged"]
    three = next(c for c in everything if c["id"] == 3)
    assert three["evidence"][0].startswith("5 of the 6 addresses")
    assert next(c for c in everything if c["id"] == 4)["evidence"] == []
    (folder / "scores.csv").unlink()
    gone = http.get("/api/v1/sybil/report")  # the service's set-up is wrong: a 503 that says so
    assert gone.status_code == 503 and "has no scores.csv" in gone.json()["detail"]


def test_contracts_listed(ws: Workspace, make_api: MakeApi) -> None:
    from proofmind.chain.contracts import Deployment, DeploymentRegistry

    registry = DeploymentRegistry(ws.state)
    registry.record(
        Deployment(
            31337, "ProvenanceRegistry", "0x" + "12" * 20, "0x" + "34" * 32, 7, "h", "d", 1.0
        )
    )
    api, http = make_api()
    assert [c["name"] for c in api.contracts()["items"]] == ["ProvenanceRegistry"]
    names = ["AgentGuard", "InferenceOracle", "RewardDistributor", "RewardToken", "Zeta"]
    for n, name in enumerate(names):
        registry.record(Deployment(31337, name, f"0x{n:040x}", "0x" + "34" * 32, n, "h", "d", 1.0))
    registry.record(
        Deployment(1, "OtherChain", "0x" + "56" * 20, "0x" + "34" * 32, 1, "h", "d", 1.0)
    )
    # the workspace names no chain id here: every chain's, by chain then name
    first = api.contracts(limit=2)
    assert [c["name"] for c in first["items"]] == ["OtherChain", "AgentGuard"]
    second = api.contracts(limit=2, cursor=first["next_cursor"])
    assert [c["name"] for c in second["items"]] == ["InferenceOracle", "ProvenanceRegistry"]
    every = [(c["chain_id"], c["name"]) for c in api.iter_contracts(limit=2)]
    assert every == [(1, "OtherChain")] + [
        (31337, n) for n in sorted([*names, "ProvenanceRegistry"])
    ]
    bad = http.get("/api/v1/contracts", params={"cursor": first["next_cursor"][:-2] + "!!"})
    assert bad.status_code == 400 and "is not a cursor of this list" in bad.json()["detail"]
    from proofmind.app.paging import encode_cursor

    alien = http.get("/api/v1/contracts", params={"cursor": encode_cursor("records", 5)})
    assert alien.status_code == 400  # another list's cursor


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:  # noqa: F811
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    yield opened
    context.close()


def test_sybil_and_agent_pages_on_a_phone(ws: Workspace, phone: Any) -> None:
    decisions(ws)
    sybil_report(ws.root.parent / "sybil-out")
    with serve(ws, sybil_report=Path("sybil-out")) as url:
        for name in ("", "lineage", "verify", "oracle", "alerts", "sybil", "rewards", "agents"):
            ready(phone, f"{url}/{name}")
            width = phone.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 390, f"/{name} is {width}px wide on a 390px screen"
            unlabelled = phone.evaluate(
                "() => [...document.querySelectorAll('input:not([type=file]), select')]"
                ".filter(e => !e.labels || e.labels.length === 0).map(e => e.id)"
            )
            assert unlabelled == [], f"/{name}: inputs without a label: {unlabelled}"
            low = phone.evaluate(LOW_CONTRAST_JS)
            assert low == [], f"/{name}: text below WCAG AA contrast: {low}"
        ready(phone, url + "/sybil")
        assert phone.locator("#clusters details").count() == 10
        # no fraud model here: the page says how to get one instead of a form that must fail
        assert phone.locator("#fraud-form").count() == 0
        assert "proofmind fraud train" in phone.inner_text("#no-fraud-model")
        phone.locator("#clusters details[data-cluster='3'] summary").click()
        assert "transacted with 0xdeadbeef" in phone.inner_text("details[data-cluster='3']")
        ready(phone, url + "/agents")
        assert "0x5a5a5a" in phone.inner_text("#view")
        badges = phone.locator("[data-status]").evaluate_all("e => e.map(x => x.dataset.status)")
        assert badges[:3] == ["noop", "executed", "refused"] and len(badges) == 50
        phone.select_option("#d-status", "refused")
        phone.wait_for_function("() => document.querySelectorAll('[data-status]').length === 1")
        assert "OverCap" in phone.inner_text("#view")


def test_proofmind_serve_prints_and_serves_the_dashboard(
    ws: Workspace,
    served: tuple[subprocess.Popen[str], str],  # noqa: F811
) -> None:
    import httpx

    process, url = served
    line = process.lines.get(timeout=5)  # type: ignore[attr-defined]
    assert line.strip() == f"dashboard: {url}/ (Ctrl-C stops the service)"
    home = httpx.get(url + "/")
    assert home.status_code == 200 and "<title>Overview · proofmind</title>" in home.text
    assert "script-src 'self'" in home.headers["content-security-policy"]
    for path in ("/static/app.js", "/static/vendor/cytoscape.esm.min.js"):
        script = httpx.get(url + path)
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert httpx.get(url + "/static/../pyproject.toml").status_code == 404
    assert httpx.get(url + "/nowhere").status_code == 404


def test_demo_names_the_dashboard_url(ws: Workspace) -> None:
    from proofmind.demo import dashboard_url

    assert dashboard_url(ws) == "http://127.0.0.1:8650/"


def test_chain_endpoint(make_api: MakeApi, devnet_chain: Chain) -> None:
    api, _ = make_api()
    found = api.chain()
    assert found["chain_id"] == 31337 and found["block"] == devnet_chain.w3.eth.block_number
    assert found["where"].startswith("devnet (anvil at http://127.0.0.1:")


def test_fraud_lookup_on_the_sybil_page(
    ws: Workspace,
    accounts: list[str],  # noqa: F811
    phone: Any,
) -> None:
    from .test_fraud_api import ABSENT

    with serve(ws) as url:
        ready(phone, f"{url}/sybil")
        phone.fill("#fraud-address", accounts[1])
        phone.click("#fraud-form button[type=submit]")
        phone.wait_for_selector("#fraud-result [data-status=scored]")
        assert "P(illicit) 0." in phone.inner_text("#fraud-result")
        assert phone.locator("#fraud-result li").count() == 3  # the top contributions
        phone.fill("#fraud-address", ABSENT)
        phone.click("#fraud-form button[type=submit]")
        phone.wait_for_selector("#fraud-result [data-status='no data']")
        assert "has no transaction in the ingested tables" in phone.inner_text("#fraud-result")
