"""The compliance API (background run, results, evidence upload, report download) and the CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

from click.testing import CliRunner

from core.es import Store
from core.settings import Settings
from soc.cli import cli
from tests.integration.api.conftest import Api, api  # noqa: F401 - the shared API fixture
from tests.unit.compliance.trees import build_compliant


def _wait(client_api: Api, headers: dict[str, str], job: str) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        resp = client_api.client.get(f"/api/v1/compliance/jobs/{job}", headers=headers)
        assert resp.status_code == 200, resp.text
        if resp.json()["status"] != "running":
            return resp.json()
        time.sleep(0.5)
    raise AssertionError("compliance run did not finish in time")


def test_api_run_results_assessment_and_report(api: Api, tmp_path: Path) -> None:  # noqa: F811
    tree = build_compliant(tmp_path / "tree")
    auditor = api.as_role("auditor")
    analyst = api.as_role("analyst")
    assert api.client.post("/api/v1/compliance/runs", json={"targets": [f"root:{tree}"]}, headers=analyst).status_code == 403
    assert api.client.post("/api/v1/compliance/runs", json={"level": 7}, headers=auditor).status_code == 422

    resp = api.client.post("/api/v1/compliance/runs", json={"level": 3, "targets": [f"root:{tree}"], "platform": False},
                           headers=auditor)
    assert resp.status_code == 202, resp.text
    job = _wait(api, auditor, resp.json()["job_id"])
    assert job["status"] == "finished", job
    assert any("主机检查" in m for m in job["messages"])
    run_id = job["result"]["run_id"]

    runs = api.client.get("/api/v1/compliance/runs", headers=analyst).json()["items"]
    assert runs[0]["id"] == run_id
    failing = api.client.get(f"/api/v1/compliance/runs/{run_id}/results", params={"result": "non_compliant"},
                             headers=auditor).json()["items"]
    assert failing == []  # the compliant tree fails nothing automated
    pending = api.client.get(f"/api/v1/compliance/runs/{run_id}/results", params={"family": "PES"},
                             headers=auditor).json()["items"]
    assert len(pending) == 22 and all(r["result"] == "待人工" for r in pending)

    files = [("files", ("photo.txt", b"door access log", "text/plain"))]
    form = {"item_id": "L3-PES1-03", "result": "部分符合", "note": "门禁记录只保留 30 天"}
    assert api.client.post(f"/api/v1/compliance/runs/{run_id}/assessments", data=form, files=files,
                           headers=analyst).status_code == 403
    resp = api.client.post(f"/api/v1/compliance/runs/{run_id}/assessments", data=form, files=files, headers=auditor)
    assert resp.status_code == 201, resp.text
    digest = next(e["sha256"] for e in resp.json()["item"]["evidence"] if e["source"] == "upload:photo.txt")
    assert api.client.get(f"/api/v1/compliance/evidence/{digest}", headers=auditor).content == b"door access log"
    bad = api.client.post(f"/api/v1/compliance/runs/{run_id}/assessments", data={**form, "result": "great"},
                          headers=auditor)
    assert bad.status_code == 422 and "Unknown result" in bad.json()["message"]
    api.store.refresh(f"{api.settings.index_prefix}-audit")
    trail = api.store.search(f"{api.settings.index_prefix}-audit", {"size": 100, "query": {"prefix": {"action": "compliance"}}})
    actions = {h["_source"]["action"] for h in trail["hits"]["hits"]}
    assert {"compliance.run", "compliance.assess"} <= actions

    report = api.client.get(f"/api/v1/compliance/runs/{run_id}/report", params={"format": "json"},
                            headers={**auditor, "accept-language": "en"})
    assert report.status_code == 200 and "attachment" in report.headers["content-disposition"]
    assert report.json()["lang"] == "en" and len(report.json()["families"]) == 10
    csv_resp = api.client.get(f"/api/v1/compliance/runs/{run_id}/report", params={"format": "csv"}, headers=auditor)
    assert "L3-PES1-03" in csv_resp.content.decode("utf-8-sig")
    cats = api.client.get("/api/v1/compliance/catalogs", headers=auditor).json()["items"]
    assert {c["id"]: c["items"] for c in cats} == {"mlps-2.0-l2": 135, "mlps-2.0-l3": 211}


def test_cli_run_list_assess_report(settings: Settings, store: Store, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    tree = build_compliant(tmp_path / "tree")
    monkeypatch.setenv("SOC_ES_URL", settings.es_url)
    monkeypatch.setenv("SOC_INDEX_PREFIX", settings.index_prefix)
    monkeypatch.setenv("SOC_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SOC_AUDIT_SECRET_KEY", settings.audit.secret_key.get_secret_value())
    runner = CliRunner()
    res = runner.invoke(cli, ["--json", "compliance", "run", "--level", "3", "--target", f"root:{tree}", "--no-platform"])
    assert res.exit_code == 0, res.output
    run = json.loads(res.output)
    assert run["status"] == "finished" and run["targets"] == [f"root:{tree}"]
    res = runner.invoke(cli, ["compliance", "runs"])
    assert res.exit_code == 0 and run["id"] in res.output
    note = tmp_path / "note.txt"
    note.write_text("UPS 测试记录")
    res = runner.invoke(cli, ["compliance", "assess", run["id"], "L3-PES1-19", "--result", "符合", "--evidence", str(note)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "r.html"
    res = runner.invoke(cli, ["compliance", "report", run["id"], "--format", "html", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "L3-PES1-19" in out.read_text("utf-8")
    res = runner.invoke(cli, ["compliance", "results", run["id"], "--family", "PES", "--result", "compliant"])
    assert res.exit_code == 0 and "L3-PES1-19" in res.output
    res = runner.invoke(cli, ["compliance", "run", "--target", "gopher://x"])
    assert res.exit_code != 0
    store.refresh(f"{settings.index_prefix}-audit")
    trail = store.search(f"{settings.index_prefix}-audit", {"size": 50, "query": {"prefix": {"action": "compliance"}}})
    assert {h["_source"]["action"] for h in trail["hits"]["hits"]} >= {"compliance.run", "compliance.assess"}
