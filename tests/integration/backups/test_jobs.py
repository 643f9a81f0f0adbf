"""Backups and drills as jobs of the shared runner: busy → 409, cancellation recorded in the run
and the drill, the finished job's result."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.identity.service import DEMO_USERS
from core.jobs import JobHandle, JobRunner
from tests.integration.backups.conftest import Env
from tests.integration.backups.test_restic_drill import make_tree


def _login(client: TestClient, user: str) -> dict[str, str]:
    resp = client.post("/api/v1/auth/login", json={"username": user, "password": DEMO_USERS[user][1]})
    assert resp.status_code == 200, resp.text
    return {"authorization": f"Bearer {resp.json()['token']}"}


def _wait(client: TestClient, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/api/v1/backups/jobs/{job_id}", headers=headers).json()
        if job["status"] != "running":
            return job
        time.sleep(0.1)
    raise AssertionError("job did not end")


def test_busy_plan_is_409_cancel_and_run(env: Env, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", files=2, size=5000)
    env.plan(id="files", assets={"paths": [str(src)]}, primary={"restic": str(tmp_path / "repo")})
    app = create_app(env.settings.model_copy(update={"demo": True}), env.store, bootstrap=True)
    client = TestClient(app)
    sysadmin, auditor = _login(client, "sysadmin"), _login(client, "auditor")
    runner: JobRunner = app.state.jobs
    release = threading.Event()

    def hold(job: JobHandle) -> dict[str, Any]:
        while not release.wait(0.02):
            job.check_cancelled()
        return {"status": "success"}

    try:
        held = runner.submit("backup", "files", hold)
        busy = client.post("/api/v1/backups/plans/files/runs", headers=sysadmin)
        assert busy.status_code == 409 and busy.json()["detail"] == {"job_id": held["job_id"]}, busy.text
        assert client.post(f"/api/v1/backups/jobs/{held['job_id']}/cancel", headers=auditor).status_code == 403
        assert client.post(f"/api/v1/backups/jobs/{held['job_id']}/cancel", headers=sysadmin).status_code == 200
        assert _wait(client, sysadmin, held["job_id"])["status"] == "cancelled"
    finally:
        release.set()
    started = client.post("/api/v1/backups/plans/files/runs", headers=sysadmin)
    assert started.status_code == 202, started.text
    job = _wait(client, sysadmin, started.json()["job_id"])
    assert job["status"] == "finished" and job["result"]["status"] == "success", job
    assert client.get(f"/api/v1/backups/runs/{job['result']['run_id']}", headers=auditor).json()["status"] == "success"
    # A compliance job is not a backup job.
    other = runner.submit("compliance.run", "x", lambda h: None)
    assert client.get(f"/api/v1/backups/jobs/{other['job_id']}", headers=sysadmin).status_code == 404


def test_cancelled_backup_and_drill_are_recorded_as_cancelled(env: Env, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", files=2, size=5000)
    plan_id = env.plan(id="files", assets={"paths": [str(src)]}, primary={"restic": str(tmp_path / "repo")})
    run = env.backup(plan_id, ctx=env.ctx(cancelled=lambda: True))
    assert run["status"] == "cancelled" and "cancelled" in run["error"], run
    assert not (tmp_path / "repo").exists()  # stopped before restic ran
    assert env.auditor.records[-1]["outcome"] == "failure"
    good = env.backup(plan_id)
    assert good["status"] == "success", good.get("error")

    # Cancelled once the restore stage begins: the fetch checks ran, the rest is skipped, the
    # scratch copies are still removed, and nothing is measured.
    asked = threading.Event()

    def progress(stage: str, _fraction: float | None, _message: str) -> None:
        if stage == "restore":
            asked.set()

    drill = env.drill(plan_id, ctx=env.ctx(progress=progress, cancelled=asked.is_set))
    checks = {c["name"]: c["status"] for c in drill["checks"]}
    assert drill["status"] == "cancelled" and drill["rto_seconds"] is None, drill
    assert checks["restic_check"] == "passed" and checks["cleanup"] == "passed", checks
    assert checks["restic_restore"] == "skipped" and checks["files_digests"] == "skipped", checks
    assert not (env.settings.data_dir / "backups" / "drills" / drill["drill_id"]).exists()
