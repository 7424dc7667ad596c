"""Lineage in both directions: from a dataset down to the runs and models made from it, from
a run up to its data and down to its model."""

from __future__ import annotations

import json

import pytest

from proofmind import track_run
from proofmind.cli.main import main
from proofmind.provenance import Ledger

from .conftest import Lineage, MakeApi

pytestmark = pytest.mark.devnet


def _keys(doc: dict[str, object]) -> set[int]:
    return {r["key"] for r in doc["records"]}  # type: ignore[attr-defined, index]


def test_descendants_and_both(lineage: Lineage, make_api: MakeApi) -> None:
    ws, keys = lineage.ws, lineage.keys
    # a second run on the same dataset, with no model (yet)
    with track_run("fraud-api-2", datasets=[lineage.data], workspace=ws, anchor=False) as run:
        run.log_params(lr=0.3)
    second = run.record.key
    api, http = make_api()
    dataset, first, model = keys["dataset"], keys["run"], keys["model"]

    down = api.lineage(dataset, format="json", direction="descendants")
    assert _keys(down) == {dataset, first, model, second}
    edges = {(e["from"], e["to"]) for e in down["edges"]}
    assert edges == {(dataset, first), (first, model), (dataset, second)}

    up = api.lineage(first, format="json")  # the default: what it came from
    assert _keys(up) == {dataset, first}
    both = api.lineage(first, format="json", direction="both")
    assert _keys(both) == {dataset, first, model}
    assert _keys(api.lineage(model, format="json", direction="descendants")) == {model}
    prov = api.lineage(dataset, direction="both")
    assert len(prov["entity"]) + len(prov.get("activity", {})) >= 4

    # what is made from an anchored record can grow: revalidated, not cached for a while
    anchored = http.get(f"/api/v1/records/{dataset}/lineage?direction=both")
    assert anchored.headers["cache-control"] == "no-cache"
    assert (
        http.get(f"/api/v1/records/{model}/lineage").headers["cache-control"].startswith("public")
    )
    bad = http.get(f"/api/v1/records/{dataset}/lineage?direction=sideways")
    assert bad.status_code == 400 and "unknown lineage direction 'sideways'" in bad.text
    assert http.get("/api/v1/records/999/lineage?direction=both").status_code == 404
    assert len(Ledger(ws).all()) == 4  # reads wrote nothing


def test_the_cli_follows_the_same_directions(
    lineage: Lineage, make_api: MakeApi, capfd: pytest.CaptureFixture[str]
) -> None:
    """`provenance lineage --direction` exports what the API's ?direction= does (one
    function behind both); a file path names the record too, and a bad direction is a
    one-line error naming the choices, with nothing written."""
    ws, keys = lineage.ws, lineage.keys
    api, _ = make_api()
    workspace = ["-w", str(ws.root)]
    for ref, direction in [
        (keys["dataset"], "descendants"),
        (keys["run"], "both"),
        (keys["model"], "ancestors"),
    ]:
        assert main(["provenance", "lineage", str(ref), "--direction", direction, *workspace]) == 0
        printed = json.loads(capfd.readouterr().out)
        assert printed == api.lineage(ref, format="json", direction=direction)
    assert main(["provenance", "lineage", str(lineage.data), "--direction", "descendants",
                 *workspace]) == 0  # fmt: skip
    down = _keys(json.loads(capfd.readouterr().out))
    assert down == {keys["dataset"], keys["run"], keys["model"]}
    assert main(["provenance", "lineage", str(keys["run"]), *workspace]) == 0  # the default
    assert _keys(json.loads(capfd.readouterr().out)) == {keys["dataset"], keys["run"]}

    out = lineage.data.parent / "down.json"
    code = main(["provenance", "lineage", str(keys["dataset"]), "--direction", "sideways",
                 "-o", str(out), *workspace])  # fmt: skip
    printed = capfd.readouterr()
    assert code == 2 and not out.exists() and printed.out == ""
    assert printed.err.strip().splitlines() == [
        "error: Invalid value for '--direction': unknown lineage direction 'sideways' — use "
        "one of ancestors, descendants, both — see `proofmind provenance lineage --help`"
    ]
