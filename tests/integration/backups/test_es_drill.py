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
    assert names["es_restore"] == names["es_digests"] == names["es_sample"] == names["es_queries"] == "passed"
    assert drill["rto_seconds"] >= drill["rto"]["restore_seconds"] > 0
    assert 0 <= drill["rpo_seconds"] < 3600
    # the scratch indices are gone and the report is stored
    assert env.store.list_indices(f"drill-{drill['drill_id']}-*") == []
    stored = service.get_drill(env.ctx(), SYSADMIN, drill["drill_id"])
    assert stored["status"] == "passed" and stored["plan_id"] == plan_id
    assert [r["action"] for r in env.auditor.records] == ["backups.run", "drills.run"]


def test_index_written_during_the_backup_is_counted_not_digested(env: Env, prefix: str) -> None:
    live, quiet = f"{prefix}-events-live", f"{prefix}-events-quiet"
    seed_index(env.store, live, 50)
    seed_index(env.store, quiet, 30)
    plan_id = env.plan(id="live", assets={"elasticsearch": {"indices": [f"{prefix}-events-*"]}})
    written: list[str] = []

    def write_while_digesting(stage: str, _fraction: float | None, message: str) -> None:
        # the progress hook fires while the manifest is built: a collector writing meanwhile
        if stage == "elasticsearch" and message == f"fingerprint of {live}" and not written:
            written.append("x")
            seed_index(env.store, live, 7, offset=500)

    run = env.backup(plan_id, ctx=env.ctx(progress=write_while_digesting))
    assert run["status"] == "success", run.get("error")
    manifest = run["manifest"]["elasticsearch"]["indices"]
    assert manifest[live]["stable"] is False and manifest[live]["count_after"] == 57
    assert manifest[quiet]["stable"] is True

    drill = env.drill(plan_id, point="random")
    assert drill["status"] == "passed", drill["checks"]
    digests = next(c for c in drill["checks"] if c["name"] == "es_digests")
    assert "1 index(es) were written during the backup and only counted" in digests["detail"]
