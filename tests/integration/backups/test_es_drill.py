from __future__ import annotations

from backup_orchestrator import service
from tests.integration.backups.conftest import SYSADMIN, Env, seed_index


def test_snapshot_backup_and_restore_drill(env: Env, prefix: str) -> None:
    seed_index(env.store, f"{prefix}-events-a", 300)
    seed_index(env.store, f"{prefix}-events-b", 120)
    plan_id = env.plan(id="es", assets={"elasticsearch": {"indices": [f"{prefix}-events-*"]}},
                       objectives={"rpo": "1h", "rto": "10m"},
                       drill={"queries": [{"name": "host h1", "query": {"term": {"host.name": "h1"}}, "min_hits": 1}]})
    run = env.backup(plan_id)
    assert run["status"] == "success", run.get("error")
    assert sorted(run["manifest"]["elasticsearch"]["indices"]) == [f"{prefix}-events-a", f"{prefix}-events-b"]
    assert run["manifest"]["elasticsearch"]["indices"][f"{prefix}-events-a"]["count"] == 300
    assert run["es"]["size_bytes"] > 0

    drill = env.drill(plan_id)
    assert drill["status"] == "passed", drill["checks"]
    names = {c["name"]: c["status"] for c in drill["checks"]}
    assert names["es_restore"] == names["es_digests"] == names["es_queries"] == "passed"
    assert drill["rto_seconds"] >= drill["rto"]["restore_seconds"] > 0
    assert 0 <= drill["rpo_seconds"] < 3600
    # the scratch indices are gone and the report is stored
    assert env.store.list_indices(f"drill-{drill['drill_id']}-*") == []
    stored = service.get_drill(env.ctx(), SYSADMIN, drill["drill_id"])
    assert stored["status"] == "passed" and stored["plan_id"] == plan_id
    assert [r["action"] for r in env.auditor.records] == ["backups.run", "drills.run"]
