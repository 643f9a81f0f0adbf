"""Compliance runs through the job runner: busy → 409, cancel, a finished job's result."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from compliance import service
from core.auditing import Actor, MemoryAuditor
from core.es import Store
from core.jobs import JobCancelled, JobHandle, JobRunner
from core.settings import Settings
from tests.integration.api.conftest import Api, api  # noqa: F401 - the shared API fixture
from tests.unit.compliance.trees import build_compliant


def _hold(release: threading.Event):  # type: ignore[no-untyped-def]
    def work(job: JobHandle) -> dict[str, Any]:
        while not release.wait(0.02):
            job.check_cancelled()
        return {"status": "finished"}
    return work


def _wait(api: Api, headers: dict[str, str], job_id: str) -> dict[str, Any]:  # noqa: F811
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        job = api.client.get(f"/api/v1/compliance/jobs/{job_id}", headers=headers).json()
        if job["status"] != "running":
            return job  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError("job did not end")


def test_busy_is_409_cancel_frees_a_slot_and_the_result_stays_readable(api: Api, tmp_path: Path) -> None:  # noqa: F811
    tree = build_compliant(tmp_path / "tree")
    auditor, analyst = api.as_role("auditor"), api.as_role("analyst")
    runner: JobRunner = api.app.state.jobs
    release = threading.Event()
    held = [runner.submit(service.JOB_KIND, f"other-{n}", _hold(release)) for n in range(2)]
    body = {"level": 3, "targets": [f"root:{tree}"], "platform": False}
    try:
        busy = api.client.post("/api/v1/compliance/runs", json=body, headers=auditor)
        assert busy.status_code == 409 and busy.json()["error"] == "conflict", busy.text
        assert sorted(busy.json()["detail"]["running"]) == sorted(j["job_id"] for j in held)
        # Both held jobs still run: nothing was evicted to answer.
        assert all(runner.get(j["job_id"])["status"] == "running" for j in held)

        assert api.client.post(f"/api/v1/compliance/jobs/{held[0]['job_id']}/cancel",
                               headers=analyst).status_code == 403
        cancelled = api.client.post(f"/api/v1/compliance/jobs/{held[0]['job_id']}/cancel", headers=auditor)
        assert cancelled.status_code == 200 and cancelled.json()["cancel_requested"] is True
        assert _wait(api, auditor, held[0]["job_id"])["status"] == "cancelled"

        started = api.client.post("/api/v1/compliance/runs", json=body, headers=auditor)
        assert started.status_code == 202, started.text
        assert started.json()["poll"] == f"/api/v1/compliance/jobs/{started.json()['job_id']}"
        again = api.client.post("/api/v1/compliance/runs", json=body, headers=auditor)
        if again.status_code != 409:  # the run may already have ended; then the slot is free again
            assert again.status_code == 202 and _wait(api, auditor, started.json()["job_id"])["status"] == "finished"
    finally:
        release.set()
    job = _wait(api, auditor, started.json()["job_id"])
    assert job["status"] == "finished" and job["kind"] == "compliance.run", job
    run = api.client.get(f"/api/v1/compliance/runs/{job['result']['run_id']}", headers=auditor).json()
    assert run["status"] == "finished" and run["overall"] == job["result"]["overall"]
    # Cancelling a finished job changes nothing; an unknown or foreign job is 404.
    assert api.client.post(f"/api/v1/compliance/jobs/{job['job_id']}/cancel",
                           headers=auditor).json()["status"] == "finished"
    assert api.client.get("/api/v1/compliance/jobs/nope", headers=auditor).status_code == 404
    backup_job = runner.submit("backup", "plan", lambda h: None)
    assert api.client.get(f"/api/v1/compliance/jobs/{backup_job['job_id']}", headers=auditor).status_code == 404
    api.store.refresh(f"{api.settings.index_prefix}-audit")
    trail = api.store.search(f"{api.settings.index_prefix}-audit",
                             {"size": 10, "query": {"term": {"action": "compliance.run.cancel"}}})
    assert {h["_source"]["target"]: h["_source"]["detail"]["status"] for h in trail["hits"]["hits"]} == {
        held[0]["job_id"]: "running", job["job_id"]: "finished"}  # every request to cancel, as it found the job


def test_a_cancelled_run_is_stored_as_cancelled_without_results(settings: Settings, store: Store,
                                                                 tmp_path: Path) -> None:
    tree = build_compliant(tmp_path / "tree")
    audit = MemoryAuditor()
    with pytest.raises(JobCancelled):
        service.run_assessment(store, settings, audit, Actor("ann", "auditor"), level=3, targets=[f"root:{tree}"],
                               platform=False, cancelled=lambda: True)
    runs = service.list_runs(store, settings, Actor("ann", "auditor"))
    assert [r["status"] for r in runs] == ["cancelled"]
    assert service.get_results(store, settings, Actor("ann", "auditor"), runs[0]["id"]) == []
    assert [(r["action"], r["outcome"]) for r in audit.records] == [("compliance.run", "failure")]
