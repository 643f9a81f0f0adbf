"""Out of the box: the default plan on a fresh data dir, and plans files read without a restart."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from backup_orchestrator import jobs, service
from core import yamlio
from core.es import Store
from core.settings import Settings
from soc.cli import cli
from tests.integration.backups.conftest import SYSADMIN, Env, seed_index


def test_default_plan_backs_up_a_fresh_data_dir_and_drills(env: Env, settings: Settings, store: Store,
                                                            prefix: str) -> None:
    assert settings.backup.default_plan and settings.backup.plans_file is None
    assert not settings.data_dir.exists()  # nothing prepared by hand: no folders, no password
    seed_index(store, f"{prefix}-alerts", 20)
    ctx = service.context(settings, store)
    [plan] = service.list_plans(settings, store, SYSADMIN)
    assert plan["id"] == "platform" and plan["source"] == "default"
    assert plan["retention"] == {"keep_last": 0, "keep_daily": 7, "keep_weekly": 4, "keep_monthly": 6}
    assert plan["schedule"] == {"every": 86400}
    assert jobs.due_backups(settings, store) == ["platform"]

    run = service.run_backup(ctx, SYSADMIN, env.auditor, "platform")
    assert run["status"] == "success", run.get("error")
    assert sorted(run["manifest"]["elasticsearch"]["indices"]) == [f"{prefix}-alerts", f"{prefix}-backups-plans"]
    assert run["restic"]["repository"].startswith(str(settings.data_dir))
    assert (settings.data_dir / "secrets" / "restic.key").stat().st_mode & 0o777 == 0o600
    drill = service.run_drill(ctx, SYSADMIN, env.auditor, "platform")
    assert drill["status"] == "passed", drill["checks"]
    assert jobs.due_backups(settings, store) == [] and jobs.due_drills(settings, store) == []


def test_plans_file_is_read_without_a_restart(settings: Settings, store: Store, tmp_path: Path) -> None:
    plans_file = settings.data_dir / "backups" / "plans.yaml"  # the default location
    assert set(service.load_plans(settings, store)) == {"platform"}
    plans_file.parent.mkdir(parents=True)
    plans_file.write_text(yamlio.dumps({"plans": [{"id": "extra", "assets": {"paths": [str(tmp_path)]},
                                                    "schedule": {"every": "1h"}}]}))
    assert set(service.load_plans(settings, store)) == {"platform", "extra"}  # same settings object
    assert "extra" in jobs.due_backups(settings, store)
    plans_file.write_text(yamlio.dumps({"plans": [{"id": "platform", "description": "mine",
                                                    "assets": {"paths": [str(tmp_path)]}}]}))
    plans = service.load_plans(settings, store)
    assert set(plans) == {"platform"} and plans["platform"].description == "mine"


def test_no_plans_points_to_the_example(settings: Settings, tmp_path: Path) -> None:
    config = tmp_path / "soc.yaml"
    config.write_text(yamlio.dumps({"data_dir": str(settings.data_dir), "index_prefix": settings.index_prefix,
                                    "es": {"url": settings.es_url}, "language": "en",
                                    "audit": {"secret_key": settings.audit.secret_key.get_secret_value()},
                                    "backup": {"default_plan": False}}))
    out = CliRunner().invoke(cli, ["--config", str(config), "backup", "plans"])
    assert out.exit_code == 0, out.output
    assert "plans.example.yaml" in out.output and "backup.plans_file" in out.output
