"""Offsite copies with lag, retention applied for real with a controlled clock, scheduling, locks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backup_orchestrator import es_snapshots, jobs, service
from backup_orchestrator.locks import PlanLock
from core.errors import Conflict
from tests.integration.backups.conftest import SYSADMIN, Env, seed_index
from tests.integration.backups.test_restic_drill import make_tree


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def test_offsite_copy_retention_and_drill_from_offsite(env: Env, tmp_path: Path, prefix: str) -> None:
    src = make_tree(tmp_path / "src", files=3, size=20_000)
    seed_index(env.store, f"{prefix}-events-r", 50)
    plan_id = env.plan(id="both", assets={"paths": [str(src)], "elasticsearch": {"indices": [f"{prefix}-events-*"]}},
                       primary={"restic": str(tmp_path / "rp")}, offsite={"restic": str(tmp_path / "ro")},
                       retention={"keep_last": 1, "keep_daily": 2}, objectives={"rpo": "2d", "rto": "10m"})
    # 10:00 UTC four days ago: the first two points share a UTC day whatever the time of the run
    clock = FakeClock((datetime.now(UTC) - timedelta(days=4)).replace(hour=10, minute=0, second=0, microsecond=0))
    ctx = env.ctx(clock=clock)
    runs = []
    for step in range(3):  # day 0 twice, then day 1 (all in the past of the real clock)
        clock.now += timedelta(hours=2 if step == 1 else 24 if step else 0)
        seed_index(env.store, f"{prefix}-events-r", 5, offset=1000 + step * 5)
        run = env.backup(plan_id, ctx=ctx)
        assert run["status"] == "success", run.get("error")
        assert run["offsite"]["status"] == "success", run["offsite"]
        assert run["offsite"]["lag_seconds"] == 0.0
        runs.append(run["run_id"])

    offsite_snaps = es_snapshots.list_snapshots(env.store, f"{prefix}-both-offsite")
    assert sorted(s["snapshot"] for s in offsite_snaps) == sorted(runs)

    preview = service.prune(ctx, SYSADMIN, env.auditor, plan_id, dry_run=True)
    # newest (day 1) is last+daily, day 0's newest is daily; day 0's first point goes
    assert preview["remove"] == [runs[0]]
    assert es_snapshots.list_snapshots(env.store, f"{prefix}-both-primary")  # nothing deleted by a preview
    assert len(es_snapshots.list_snapshots(env.store, f"{prefix}-both-primary")) == 3

    applied = service.prune(ctx, SYSADMIN, env.auditor, plan_id, dry_run=False)
    assert applied["remove"] == preview["remove"] and applied["errors"] == []
    assert sorted(s["snapshot"] for s in es_snapshots.list_snapshots(env.store, f"{prefix}-both-primary")) == runs[1:]
    assert sorted(s["snapshot"] for s in es_snapshots.list_snapshots(env.store, f"{prefix}-both-offsite")) == runs[1:]
    primary = ctx.restic(service.get_plan(env.settings, env.store, plan_id), "primary")
    assert len(primary.snapshots()) == 2
    assert [r["run_id"] for r in ctx.catalog.recovery_points(plan_id)] == runs[:0:-1]

    drill = env.drill(plan_id, ctx=ctx, source="offsite")
    assert drill["status"] == "passed", drill["checks"]
    assert drill["run_id"] == runs[2] and drill["source"] == "offsite"
    assert drill["rpo_seconds"] == 0.0  # the controlled clock has not moved since the last run


def test_schedule_rpo_breach_and_overlap(env: Env, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", files=1, size=1000)
    plan_id = env.plan(id="sched", assets={"paths": [str(src)]}, primary={"restic": str(tmp_path / "r")},
                       schedule={"every": "6h"}, objectives={"rpo": "12h", "rto": "1h"}, drill={"every": "7d"})
    now = datetime.now(UTC)
    assert jobs.due_backups(env.settings, env.store, now) == [plan_id]
    assert jobs.due_drills(env.settings, env.store, now) == []  # nothing to drill yet
    assert [b["plan_id"] for b in jobs.check_rpo(env.settings, env.store, now)] == [plan_id]

    tick = jobs.tick(env.settings, env.store, env.auditor, now)
    # the first recovery point is drilled in the same tick
    assert tick["backups"][0]["status"] == "success" and tick["drills"][0]["status"] == "passed"
    assert jobs.due_backups(env.settings, env.store, now + timedelta(hours=5)) == []
    assert jobs.due_backups(env.settings, env.store, now + timedelta(hours=7)) == [plan_id]
    assert jobs.due_drills(env.settings, env.store, now + timedelta(days=1)) == []
    assert jobs.due_drills(env.settings, env.store, now + timedelta(days=8)) == [plan_id]
    assert jobs.check_rpo(env.settings, env.store, now + timedelta(hours=1)) == []
    late = jobs.check_rpo(env.settings, env.store, now + timedelta(hours=13))
    assert late[0]["plan_id"] == plan_id and late[0]["age_seconds"] > 12 * 3600
    alerts = env.store.search(f"{env.settings.index_prefix}-alerts",
                              {"query": {"term": {"rule.id": "backup.rpo_breach"}}})
    assert alerts["hits"]["total"]["value"] >= 1
    assert alerts["hits"]["hits"][0]["_source"]["alert"]["source"] == "backup"

    # a run in progress (another process) blocks a second one of the same plan
    with PlanLock(env.ctx().lock_dir(), plan_id).held(), pytest.raises(Conflict, match="already running"):
        env.backup(plan_id)
    assert env.auditor.records[-1]["outcome"] == "failure"
