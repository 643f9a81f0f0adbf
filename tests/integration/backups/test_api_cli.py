"""Backups and drills through the API (background jobs with progress) and the CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from api.identity.service import DEMO_USERS
from soc.cli import cli, main
from tests.integration.backups.conftest import Env
from tests.integration.backups.test_restic_drill import make_tree


def _login(client: TestClient, user: str) -> dict[str, str]:
    resp = client.post("/api/v1/auth/login", json={"username": user, "password": DEMO_USERS[user][1]})
    assert resp.status_code == 200, resp.text
    return {"authorization": f"Bearer {resp.json()['token']}"}


def _wait(client: TestClient, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    seen = set()
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/backups/jobs/{job_id}", headers=headers).json()
        seen.add(job["stage"])
        if job["status"] != "running":
            job["stages_seen"] = seen
            return job
        time.sleep(0.2)
    raise AssertionError("job did not finish")


def test_api_plans_trigger_progress_history_and_report(env: Env, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", files=2, size=5000)
    env.plan(id="files", assets={"paths": [str(src)]}, primary={"restic": str(tmp_path / "repo")})
    app = create_app(env.settings.model_copy(update={"demo": True}), env.store, bootstrap=True)
    client = TestClient(app)
    sysadmin, auditor, analyst = (_login(client, u) for u in ("sysadmin", "auditor", "analyst"))

    plans = client.get("/api/v1/backups/plans", headers=auditor).json()["items"]
    assert [p["id"] for p in plans] == ["files"]
    assert client.get("/api/v1/backups/plans", headers=analyst).status_code == 403
    bad = client.put("/api/v1/backups/plans/api-plan", json={"assets": {"paths": ["relative"]}}, headers=sysadmin)
    assert bad.status_code == 422 and "absolute" in bad.json()["message"]
    saved = client.put("/api/v1/backups/plans/api-plan", json={"assets": {"paths": [str(src)]},
                                                               "primary": {"restic": str(tmp_path / "repo2")}},
                       headers=sysadmin)
    assert saved.status_code == 200, saved.text
    assert {p["id"]: p["source"] for p in client.get("/api/v1/backups/plans", headers=sysadmin).json()["items"]} == {
        "api-plan": "api", "files": "file"}

    assert client.post("/api/v1/backups/plans/files/runs", headers=auditor).status_code == 403
    assert client.post("/api/v1/backups/plans/nope/runs", headers=sysadmin).status_code == 404
    started = client.post("/api/v1/backups/plans/files/runs", headers=sysadmin)
    assert started.status_code == 202, started.text
    job = _wait(client, sysadmin, started.json()["job_id"])
    assert job["status"] == "finished" and job["result"]["status"] == "success", job
    assert "done" in job["stages_seen"]
    run_id = job["result"]["run_id"]
    run = client.get(f"/api/v1/backups/runs/{run_id}", headers=auditor).json()
    assert run["manifest"]["files"]["count"] == 3

    drill_job = client.post("/api/v1/backups/plans/files/drills", json={"point": run_id}, headers=sysadmin)
    assert drill_job.status_code == 202, drill_job.text
    finished = _wait(client, sysadmin, drill_job.json()["job_id"])
    assert finished["result"]["status"] == "passed", finished
    drill_id = finished["result"]["drill_id"]
    drills = client.get("/api/v1/backups/drills", params={"plan": "files"}, headers=auditor).json()["items"]
    assert drills[0]["drill_id"] == drill_id
    # A real restic restore takes measurable time, and the stages add up to no more than the RTO.
    rto = drills[0]["rto"]
    assert rto["restore_seconds"] > 0, rto
    assert rto["fetch_seconds"] + rto["restore_seconds"] + rto["verify_seconds"] <= drills[0]["rto_seconds"] + 0.003
    html = client.get(f"/api/v1/backups/drills/{drill_id}/report", headers={**auditor, "accept-language": "en"})
    assert html.status_code == 200 and "Restore drill report" in html.text and "files_digests" in html.text
    zh = client.get(f"/api/v1/backups/drills/{drill_id}/report", headers=auditor)
    assert "恢复演练报告" in zh.text
    as_json = client.get(f"/api/v1/backups/drills/{drill_id}/report", params={"format": "json"}, headers=auditor)
    assert as_json.json()["drill_id"] == drill_id
    preview = client.post("/api/v1/backups/plans/files/prune", json={"dry_run": True}, headers=sysadmin).json()
    assert preview["dry_run"] is True and preview["remove"] == []


def test_cli_backup_drill_list_prune_and_report(env: Env, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", files=2, size=5000)
    env.plan(id="files", assets={"paths": [str(src)]}, primary={"restic": str(tmp_path / "repo")},
             retention={"keep_last": 1})
    s = env.settings
    config = tmp_path / "soc.yaml"
    config.write_text(json.dumps({"data_dir": str(s.data_dir), "index_prefix": s.index_prefix, "es": {"url": s.es_url},
                                  "audit": {"secret_key": s.audit.secret_key.get_secret_value()},
                                  "backup": {"plans_file": str(s.backup.plans_file),
                                             "restic_password_file": str(s.backup.restic_password_file)}}))
    runner = CliRunner()

    def soc(*args: str) -> Any:
        return runner.invoke(cli, ["--config", str(config), *args], catch_exceptions=False)

    first = soc("--json", "backup", "run", "files")
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["status"] == "success"
    assert soc("backup", "run", "files").exit_code == 0
    listing = soc("backup", "list")
    assert listing.exit_code == 0 and listing.output.count("success") == 2
    preview = soc("--json", "backup", "prune", "files", "--dry-run")
    assert preview.exit_code == 0 and len(json.loads(preview.output)["remove"]) == 1
    assert soc("backup", "list").output.count("pruned") == 0
    applied = soc("backup", "prune", "files", "--apply")
    assert applied.exit_code == 0 and "remove 1" in applied.output.replace("删除 1", "remove 1")
    html = tmp_path / "drill.html"
    drill = soc("--json", "drill", "run", "files", "--html", str(html))
    assert drill.exit_code == 0, drill.output
    doc = json.loads(drill.output)
    assert doc["status"] == "passed" and "恢复演练报告" in html.read_text("utf-8")
    drills = soc("drill", "list")
    assert doc["drill_id"] in drills.output
    assert main(["--config", str(config), "backup", "run", "nope"]) == 2
