"""Graded systems and the roll-up through the API (routes, roles, bad input) and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from core.errors import InvalidInput, NotFound
from core.es import Store
from core.settings import Settings
from soc.cli import cli
from tests.integration.api.conftest import Api, api  # noqa: F401 - the shared API fixture
from tests.integration.compliance.test_api_cli import _wait
from tests.unit.compliance.trees import build_compliant, build_noncompliant


def test_api_systems_run_and_rollup(api: Api, tmp_path: Path) -> None:  # noqa: F811
    good = build_compliant(tmp_path / "good")
    auditor, analyst = api.as_role("auditor"), api.as_role("analyst")
    body = {"id": "jw-portal", "name": {"zh": "教委门户", "en": "Portal"}, "level": 2, "hosts": [f"root:{good}"],
            "organization": "jiaowei", "description": "对外网站"}
    assert api.client.post("/api/v1/compliance/systems", json=body, headers=analyst).status_code == 403
    for bad in ({**body, "level": 4}, {**body, "id": "Has Space"}, {**body, "hosts": ["gopher://x"]},
                {**body, "organization": "../x"}, {**body, "extra": 1}, {k: v for k, v in body.items() if k != "level"}):
        resp = api.client.post("/api/v1/compliance/systems", json=bad, headers=auditor)
        assert resp.status_code == 422, (bad, resp.text)
    resp = api.client.post("/api/v1/compliance/systems", json=body, headers=auditor)
    assert resp.status_code == 201, resp.text
    assert resp.json()["organization"] == {"id": "jiaowei"} and resp.json()["name"]["en"] == "Portal"
    assert api.client.post("/api/v1/compliance/systems", json=body, headers=auditor).status_code == 409
    assert api.client.get("/api/v1/compliance/systems/nope", headers=auditor).status_code == 404
    listed = api.client.get("/api/v1/compliance/systems", headers=analyst).json()["items"]
    assert [s["id"] for s in listed] == ["jw-portal"]

    resp = api.client.post("/api/v1/compliance/runs", json={"system": "jw-portal", "platform": False}, headers=auditor)
    assert resp.status_code == 202, resp.text
    # the same system's run while one is going is refused; an unknown system at once
    assert api.client.post("/api/v1/compliance/runs", json={"system": "jw-portal", "platform": False},
                           headers=auditor).status_code in (202, 409)
    assert api.client.post("/api/v1/compliance/runs", json={"system": "nope"}, headers=auditor).status_code == 404
    assert api.client.post("/api/v1/compliance/runs", json={"system": "jw-portal", "level": 3},
                           headers=auditor).status_code == 422
    job = _wait(api, auditor, resp.json()["job_id"])
    assert job["status"] == "finished", job
    run = api.client.get(f"/api/v1/compliance/runs/{job['result']['run_id']}", headers=auditor).json()
    assert run["catalog"] == "mlps-2.0-l2" and run["system"]["id"] == "jw-portal"

    rollup = api.client.get("/api/v1/compliance/rollup", headers={**analyst, "accept-language": "en"}).json()
    assert rollup["lang"] == "en" and len(rollup["rows"]) == 1
    row = rollup["rows"][0]
    assert (row["system"]["name"], row["score"], row["band"], row["run"]["id"]) == ("Portal", run["overall"],
                                                                                     run["band"], run["id"])
    assert rollup["departments"][0]["organization"]["id"] == "jiaowei"

    resp = api.client.patch("/api/v1/compliance/systems/jw-portal", json={"level": 3, "contact": "李"}, headers=auditor)
    assert resp.status_code == 200 and resp.json()["level"] == 3 and resp.json()["hosts"] == [f"root:{good}"]
    assert api.client.patch("/api/v1/compliance/systems/jw-portal", json={"level": 9}, headers=auditor).status_code == 422
    assert api.client.patch("/api/v1/compliance/systems/jw-portal", json={"id": "x"}, headers=auditor).status_code == 422
    assert api.client.delete("/api/v1/compliance/systems/jw-portal", headers=analyst).status_code == 403
    assert api.client.delete("/api/v1/compliance/systems/jw-portal", headers=auditor).status_code == 200
    assert api.client.get("/api/v1/compliance/rollup", headers=auditor).json()["rows"] == []
    api.store.refresh(f"{api.settings.index_prefix}-audit")
    trail = api.store.search(f"{api.settings.index_prefix}-audit",
                             {"size": 50, "query": {"prefix": {"action": "compliance.systems"}}})
    assert {h["_source"]["action"] for h in trail["hits"]["hits"]} == {
        "compliance.systems.register", "compliance.systems.update", "compliance.systems.remove"}


def test_cli_systems_and_rollup(settings: Settings, store: Store, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    bad = build_noncompliant(tmp_path / "bad")
    monkeypatch.setenv("SOC_ES_URL", settings.es_url)
    monkeypatch.setenv("SOC_INDEX_PREFIX", settings.index_prefix)
    monkeypatch.setenv("SOC_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SOC_AUDIT_SECRET_KEY", settings.audit.secret_key.get_secret_value())
    monkeypatch.setenv("SOC_LANGUAGE", "zh-CN")
    runner = CliRunner()
    res = runner.invoke(cli, ["compliance", "systems", "add", "wj-his", "--name", "医院信息系统", "--name-en", "HIS",
                              "--level", "3", "--host", f"root:{bad}", "--org", "weijianwei"])
    assert res.exit_code == 0, res.output
    assert "wj-his" in res.output and "weijianwei" in res.output
    res = runner.invoke(cli, ["compliance", "systems", "add", "wj-x", "--name", "x", "--level", "3", "--org", "Bad Org"])
    assert isinstance(res.exception, InvalidInput) and "organization" in res.exception.message
    res = runner.invoke(cli, ["compliance", "systems", "add", "wj-y", "--name", "y"])
    assert isinstance(res.exception, InvalidInput) and "level" in res.exception.message
    res = runner.invoke(cli, ["compliance", "systems", "list"])
    assert res.exit_code == 0 and "医院信息系统" in res.output and "部门" in res.output

    res = runner.invoke(cli, ["--json", "compliance", "run", "--system", "wj-his", "--no-platform"])
    assert res.exit_code == 0, res.output
    run = json.loads(res.output)
    assert run["catalog"] == "mlps-2.0-l3" and run["organization"]["id"] == "weijianwei"
    res = runner.invoke(cli, ["compliance", "run", "--system", "wj-his", "--level", "2"])
    assert isinstance(res.exception, InvalidInput) and "level 3" in res.exception.message

    res = runner.invoke(cli, ["--json", "compliance", "rollup"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert [(r["system"]["id"], r["score"]) for r in data["rows"]] == [("wj-his", run["overall"])]
    assert data["rows"][0]["high_risks"] == run["score"]["risks"]["high"] > 0
    res = runner.invoke(cli, ["compliance", "rollup"])
    assert res.exit_code == 0 and "wj-his" in res.output and str(run["overall"]) in res.output and "各部门汇总" in res.output

    res = runner.invoke(cli, ["compliance", "systems", "show", "wj-his"])
    assert res.exit_code == 0 and run["id"] in res.output
    res = runner.invoke(cli, ["compliance", "systems", "add", "wj-his", "--update", "--level", "2"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["compliance", "systems", "remove", "wj-his"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["compliance", "systems", "show", "wj-his"])
    assert isinstance(res.exception, NotFound) and "wj-his" in res.exception.message


def test_api_department_auditor_gets_own_rows_only(api: Api, tmp_path: Path) -> None:  # noqa: F811
    from tests.integration.api.test_departments import make_user, seed_departments

    seed_departments(api)
    district = make_user(api, "dist-aud", "auditor", "district")
    jw = make_user(api, "jw-aud", "auditor", "jiaowei")
    wj_analyst = make_user(api, "wj-ana", "analyst", "weijianwei")
    for sid, org, level in (("jw-portal", "jiaowei", 2), ("wj-his", "weijianwei", 3), ("mz-db", "minzhengju", 2)):
        resp = api.client.post("/api/v1/compliance/systems", headers=district,
                               json={"id": sid, "name": sid, "level": level, "organization": org})
        assert resp.status_code == 201, resp.text
    # a department's auditor registers for the own department only (default: the own one)
    own = api.client.post("/api/v1/compliance/systems", headers=jw, json={"id": "jw-oa", "name": "办公", "level": 2})
    assert own.status_code == 201 and own.json()["organization"] == {"id": "jiaowei"}
    assert api.client.post("/api/v1/compliance/systems", headers=jw, json={
        "id": "jw-x", "name": "x", "level": 2, "organization": "weijianwei"}).status_code == 403
    assert api.client.post("/api/v1/compliance/systems", headers=district, json={
        "id": "x-1", "name": "x", "level": 2, "organization": "nosuch"}).status_code == 422

    rows = api.client.get("/api/v1/compliance/rollup", headers=jw).json()
    assert sorted(r["system"]["id"] for r in rows["rows"]) == ["jw-oa", "jw-portal"]
    assert [d["organization"]["name"] for d in rows["departments"]] == ["教委"]
    wj_rows = api.client.get("/api/v1/compliance/rollup", headers=wj_analyst).json()["rows"]
    assert [r["system"]["id"] for r in wj_rows] == ["wj-his"]
    all_rows = api.client.get("/api/v1/compliance/rollup", headers=district).json()
    assert {r["system"]["id"] for r in all_rows["rows"]} == {"jw-oa", "jw-portal", "wj-his", "mz-db"}
    assert all_rows["total"]["departments"] == 3

    assert api.client.get("/api/v1/compliance/systems/wj-his", headers=jw).status_code == 404
    assert api.client.patch("/api/v1/compliance/systems/wj-his", headers=jw, json={"level": 2}).status_code == 404
    assert api.client.delete("/api/v1/compliance/systems/wj-his", headers=jw).status_code == 404
    assert api.client.post("/api/v1/compliance/runs", headers=jw, json={"system": "wj-his"}).status_code == 404
    assert [s["id"] for s in api.client.get("/api/v1/compliance/systems", headers=wj_analyst).json()["items"]] == \
        ["wj-his"]
