"""A backup plan belongs to a department: its runs, drills and restores carry the plan's
``organization.id``; the default platform plan is the district's; a department sees only its plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from backup_orchestrator import defaults, plans, restore, service
from core.auditing import Actor
from core.errors import InvalidInput, NotFound
from core.scope import Scope, acting
from tests.integration.backups.conftest import SYSADMIN, Env
from tests.integration.backups.test_restic_drill import make_tree


def _org_of(env: Env, index: str, field: str, doc_id: str) -> str:
    hit = env.store.get(f"{env.settings.index_prefix}-backups-{index}", doc_id)
    assert hit is not None, (index, doc_id)
    # the field is indexed, so the department filter finds the document
    count = env.store.count(f"{env.settings.index_prefix}-backups-{index}", {"bool": {"filter": [
        {"term": {field: doc_id}}, {"term": {"organization.id": hit["_source"]["organization"]["id"]}}]}})
    assert count == 1
    return str(hit["_source"]["organization"]["id"])


def test_runs_drills_and_restores_carry_the_plans_department(env: Env, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", files=2, size=4000)
    env.plan(id="jw-files", organization="jiaowei", assets={"paths": [str(src)]},
             primary={"restic": str(tmp_path / "repo-jw")})
    env.plan(id="wj-files", organization="weijianwei", assets={"paths": [str(src)]},
             primary={"restic": str(tmp_path / "repo-wj")})
    env.plan(id="shared", assets={"paths": [str(src)]}, primary={"restic": str(tmp_path / "repo-d")})
    run = env.backup("jw-files")
    assert run["status"] == "success", run.get("error")
    assert run["organization"] == {"id": "jiaowei"} and _org_of(env, "runs", "run_id", run["run_id"]) == "jiaowei"
    district = env.backup("shared")
    assert _org_of(env, "runs", "run_id", district["run_id"]) == "district"
    drill = env.drill("jw-files")
    assert drill["status"] == "passed", drill["checks"]
    assert _org_of(env, "drills", "drill_id", drill["drill_id"]) == "jiaowei"
    out = service.run_restore(env.ctx(), SYSADMIN, env.auditor, "jw-files",
                              restore.Request(target_dir=tmp_path / "out"), dry_run=False, confirm="jw-files")
    assert out["status"] == "success" and _org_of(env, "restores", "restore_id", out["restore_id"]) == "jiaowei"

    # a department's sysadmin sees and runs only its own plans
    jw_sysadmin = Actor("jin", "sysadmin", organization="jiaowei")
    with acting(Scope(organizations=frozenset({"jiaowei"}), home="jiaowei", user="jin")):
        visible = {p["id"] for p in service.list_plans(env.settings, env.store, jw_sysadmin)}
        assert visible == {"jw-files"}
        with pytest.raises(NotFound):
            service.run_backup(env.ctx(), jw_sysadmin, env.auditor, "wj-files")


def test_plan_organization_config_and_default_plan(env: Env) -> None:
    assert defaults.plan(env.settings).organization == "district"
    plan = plans.parse_plan({"id": "p", "organization": "minzhengju", "assets": {"paths": ["/srv"]}})
    assert plan.organization == "minzhengju" and plan.owner() == {"id": "minzhengju"}
    assert plans.parse_plan(plans.plan_to_dict(plan)).organization == "minzhengju"
    assert plans.parse_plan({"id": "p", "assets": {"paths": ["/srv"]}}).organization == "district"
    for bad in ("Bad Org", "", 3, "../x"):
        with pytest.raises(InvalidInput, match="organization"):
            plans.parse_plan({"id": "p", "organization": bad, "assets": {"paths": ["/srv"]}})
    # a plan saved through the API by a department's sysadmin is that department's
    saved = service.save_plan(env.settings, env.store, Actor("jin", "sysadmin", organization="jiaowei"),
                              env.auditor, {"id": "api-plan", "assets": {"paths": ["/srv"]}})
    assert saved["organization"] == "jiaowei"
    stored = env.store.get(f"{env.settings.index_prefix}-backups-plans", "api-plan")
    assert stored is not None and stored["_source"]["organization"] == {"id": "jiaowei"}


def test_department_plans_hold_no_elasticsearch_snapshots(env: Env) -> None:
    """A snapshot of an index holds every department's documents: district plans only."""
    with pytest.raises(InvalidInput, match="district"):
        plans.parse_plan({"id": "p", "organization": "jiaowei",
                          "assets": {"elasticsearch": {"indices": ["soc-events-*"]}}})
    with pytest.raises(InvalidInput, match="district"):
        service.save_plan(env.settings, env.store, Actor("jin", "sysadmin", organization="jiaowei"), env.auditor,
                          {"id": "jw-es", "assets": {"elasticsearch": {"indices": ["soc-events-*"]}}})
    assert plans.parse_plan({"id": "p", "assets": {"elasticsearch": {"indices": ["soc-events-*"]}}}).has_es


def test_a_department_sysadmin_runs_its_plan_as_a_background_job(env: Env, tmp_path: Path) -> None:
    from core.jobs import JobRunner

    src = make_tree(tmp_path / "src", files=2, size=4000)
    env.plan(id="jw-job", organization="jiaowei", assets={"paths": [str(src)]},
             primary={"restic": str(tmp_path / "repo-jw")})
    jin = Actor("jin", "sysadmin", organization="jiaowei")
    runner = JobRunner()
    with acting(Scope(organizations=frozenset({"jiaowei"}), home="jiaowei", user="jin")):
        job = service.trigger_backup(env.ctx(), jin, env.auditor, runner, "jw-job")
    done = runner.wait(job["job_id"], timeout=120)
    assert done["status"] == "finished", done
    assert done["result"]["status"] == "success", done
    assert _org_of(env, "runs", "run_id", done["result"]["run_id"]) == "jiaowei"
