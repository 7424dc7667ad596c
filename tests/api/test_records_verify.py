"""Records, lineage and verify through the HTTP API: the same answers as the CLI."""

from __future__ import annotations

import json

import pytest

from proofmind.client import ApiError
from proofmind.provenance.ledger import Ledger
from proofmind.provenance.lineage import export, lineage_records

from .conftest import ROWS, Lineage, MakeApi

pytestmark = pytest.mark.devnet


def test_records_by_kind_and_by_id(lineage: Lineage, make_api: MakeApi) -> None:
    api, http = make_api()
    page = api.records()
    assert [r["kind"] for r in page["items"]] == ["dataset", "run", "model"]
    assert page["next_cursor"] is None
    model = api.record(lineage.keys["model"])
    assert model["name"] == "model" and model["state"] == "anchored"
    assert model["path"] == "model.bin"  # relative to the project folder
    assert api.record(model["record_id"]) == model
    assert http.get("/api/v1/models").json()["items"] == [model]
    assert (
        http.get(f"/api/v1/datasets/{lineage.keys['dataset']}").json()["path"] == "data/train.csv"
    )
    # a model is not a dataset
    wrong = http.get(f"/api/v1/datasets/{lineage.keys['model']}")
    assert wrong.status_code == 404 and "is a model, not a dataset" in wrong.json()["detail"]


def test_pages_follow_the_cursor(lineage: Lineage, make_api: MakeApi) -> None:
    api, http = make_api()
    first = http.get("/api/v1/records", params={"limit": 2})
    assert len(first.json()["items"]) == 2
    assert 'rel="next"' in first.headers["link"]
    rest = api.records(limit=2, cursor=first.json()["next_cursor"])
    assert [r["kind"] for r in rest["items"]] == ["model"] and rest["next_cursor"] is None
    assert [r["key"] for r in api.iter_records(limit=1)] == sorted(lineage.keys.values())
    assert [r["kind"] for r in api.iter_records(kind="run")] == ["run"]


def test_anchored_records_carry_an_etag(lineage: Lineage, make_api: MakeApi) -> None:
    _, http = make_api()
    url = f"/api/v1/records/{lineage.keys['model']}"
    first = http.get(url)
    assert first.headers["cache-control"].startswith("public, max-age=")
    etag = first.headers["etag"]
    again = http.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert http.get(url, headers={"If-None-Match": '"other"'}).status_code == 200


def test_lineage_is_the_cli_export(lineage: Lineage, make_api: MakeApi) -> None:
    api, _ = make_api()
    key = lineage.keys["model"]
    prov = api.lineage(key)
    cli = json.loads(export(lineage_records(Ledger(lineage.ws), str(key)), "prov"))
    assert prov == cli
    assert any(v["prov:type"] == "pm:TrainingRun" for v in prov["activity"].values())
    assert prov["used"] and prov["wasGeneratedBy"]
    whole = api.lineage(format="json")
    assert len(whole["records"]) == 3 and len(whole["edges"]) == 2
    assert api.lineage(key, format="dot").startswith("digraph lineage")


def test_verify_by_path_and_by_upload(lineage: Lineage, make_api: MakeApi) -> None:
    api, _ = make_api()
    by_path = api.verify_path("model.bin")
    assert by_path["ok"], by_path
    assert [r["kind"] for r in by_path["records"]] == ["model", "run", "dataset"]
    same = api.verify_file(lineage.data, record=lineage.keys["dataset"])
    assert same["ok"] and same["target"] == "train.csv"
    tampered = (lineage.data.read_text()).replace(f",{10**20 + 7}", f",{10**20 + 8}")
    report = api.verify_file(tampered.encode(), record=lineage.keys["dataset"], filename="copy.csv")
    assert not report["ok"]
    problems = report["records"][0]["problems"]
    assert any("row 6 differs" in p for p in problems), problems
    assert lineage.data.read_text() == "\n".join(ROWS) + "\n"  # the workspace's file untouched
    model = api.verify_file(lineage.model.read_bytes()[:-1] + b"\x00", record=lineage.keys["model"])
    assert any("byte 1023" in p for p in model["records"][0]["problems"]), model


def test_verify_refuses_what_it_cannot_check(lineage: Lineage, make_api: MakeApi) -> None:
    api, _ = make_api()
    with pytest.raises(ApiError) as run:
        api.verify_file(b"x", record=lineage.keys["run"])
    assert run.value.status == 400 and "uploads verify datasets and models" in str(run.value)
    with pytest.raises(ApiError) as missing:
        api.verify_path("nothing/here.csv")
    assert missing.value.status == 400
    assert str(missing.value).startswith(str(lineage.ws.root.parent / "nothing/here.csv"))
