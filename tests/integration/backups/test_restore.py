"""Real restores: indices switched in by alias, files into a directory, a dump into a new database."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from backup_orchestrator import restore, service
from core.auditing import Actor
from core.errors import InvalidInput, PermissionDenied
from core.es import Store
from soc.cli import cli
from tests.integration.backups.conftest import SYSADMIN, Env, seed_index
from tests.integration.backups.test_postgres import PG_BIN, postgres  # noqa: F401 - the fixture
from tests.integration.backups.test_restic_drill import make_tree


@pytest.fixture
def cleanup(store: Store, prefix: str) -> Iterator[None]:
    yield
    store.delete_indices(f"restored-*-{prefix}-*")
    store.delete_indices(f"replaced-*-{prefix}-*")


def _restore(env: Env, plan_id: str, dry_run: bool = False, **req: Any) -> dict[str, Any]:
    return service.run_restore(env.ctx(), SYSADMIN, env.auditor, plan_id, restore.Request(**req), dry_run=dry_run,
                               confirm=None if dry_run else plan_id)


def _aliases(store: Store, name: str) -> dict[str, Any]:
    return {k: v["aliases"] for k, v in store.request("GET", f"/_alias/{name}").items()}


def test_indices_restored_under_new_names_and_switched_in_by_alias(env: Env, prefix: str, cleanup: None) -> None:
    live = f"{prefix}-events-auth-000001"
    seed_index(env.store, live, 300)
    env.store.request("POST", "/_aliases", body={"actions": [
        {"add": {"index": live, "alias": f"{prefix}-events-auth", "is_write_index": True}}]})
    plan_id = env.plan(id="es", assets={"elasticsearch": {"indices": [f"{prefix}-events-*"]}},
                       objectives={"rpo": "1h", "rto": "10m"})
    run = env.backup(plan_id)
    assert run["status"] == "success", run.get("error")
    # the loss: documents deleted, others written
    for i in range(50):
        env.store.delete(live, f"d{i}")
    env.store.put(live, "late", {"message": "after the backup"}, refresh="wait_for")
    assert env.store.count(live) == 251

    with pytest.raises(PermissionDenied):
        service.run_restore(env.ctx(), Actor("carol", "auditor"), env.auditor, plan_id, restore.Request())
    with pytest.raises(InvalidInput, match="typed as confirmation"):
        service.run_restore(env.ctx(), SYSADMIN, env.auditor, plan_id, restore.Request(), dry_run=False, confirm="x")

    preview = _restore(env, plan_id, dry_run=True)
    [change] = preview["changes"]["indices"]
    assert change["now"] == "index" and change["current_docs"] == 251
    assert change["aliases"] == [{"alias": f"{prefix}-events-auth", "now": "alias", "members": [live],
                                  "is_write_index": True}]
    assert env.store.count(live) == 251 and env.store.list_indices(f"restored-*-{live}") == []

    done = _restore(env, plan_id)
    assert done["status"] == "success", done["checks"]
    assert [c["name"] for c in done["checks"]] == ["es_restore", "es_verify", "es_switch"]
    assert 0 <= done["rpo_seconds"] < 3600 and done["rto_seconds"] > 0 and done["rto_met"]
    restored = env.store.list_indices(f"restored-*-{live}")
    assert len(restored) == 1
    assert env.store.count(live) == 300  # the name now resolves to the restored copy
    assert list(_aliases(env.store, live)) == restored
    write = _aliases(env.store, f"{prefix}-events-auth")
    assert write == {restored[0]: {f"{prefix}-events-auth": {"is_write_index": True}}}
    [aside] = env.store.list_indices(f"replaced-*-{live}")
    assert env.store.count(aside) == 251  # the replaced data is kept, not dropped
    assert change["restore_as"].endswith(f"-{live}") and restored[0].endswith(f"-{live}")
    # the write alias takes new events into the restored copy
    env.store.put(f"{prefix}-events-auth", "new", {"message": "after the restore"}, refresh="wait_for")
    assert env.store.count(live) == 301

    stored = service.list_restores(env.ctx(), Actor("carol", "auditor"), plan_id)
    assert [r["restore_id"] for r in stored] == [done["restore_id"]]
    actions = [r["action"] for r in env.auditor.records]
    assert actions.count("backups.restore") == 2 and "backups.restore.preview" in actions
    ok = [r for r in env.auditor.records if r["action"] == "backups.restore" and r["outcome"] == "success"]
    assert ok and ok[0]["detail"]["restore_id"] == done["restore_id"]


def test_files_restored_into_a_target_directory(env: Env, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", files=4, size=50_000)
    plan_id = env.plan(id="files", assets={"paths": [str(src)]}, primary={"restic": str(tmp_path / "repo")})
    assert env.backup(plan_id)["status"] == "success"
    target = tmp_path / "out"
    preview = _restore(env, plan_id, dry_run=True, target_dir=target)
    assert preview["changes"]["files"]["files"] == 5 and not target.exists()
    done = _restore(env, plan_id, target_dir=target)
    assert done["status"] == "success", done["checks"]
    for f in src.rglob("*"):
        if f.is_file():
            assert (target / str(f).lstrip("/")).read_bytes() == f.read_bytes()


def test_dump_restored_into_a_named_database(env: Env, tmp_path: Path, postgres: dict[str, Any]) -> None:  # noqa: F811
    plan_id = env.plan(id="db", assets={"postgres": postgres}, primary={"restic": str(tmp_path / "repo")})
    assert env.backup(plan_id)["status"] == "success"
    preview = _restore(env, plan_id, dry_run=True, database="evidence_restored")
    assert preview["changes"]["database"]["exists"] is False
    done = _restore(env, plan_id, database="evidence_restored")
    assert done["status"] == "success", done["checks"]
    rows = subprocess.run([str(PG_BIN / "psql"), "-h", str(postgres["host"]), "-p", str(postgres["port"]), "-U",
                           "postgres", "-d", "evidence_restored", "-At", "-c", "select count(*) from evidence"],
                          capture_output=True, text=True, check=True)
    assert rows.stdout.strip() == "500"
    again = _restore(env, plan_id, dry_run=True, database="evidence_restored")
    assert again["changes"]["database"]["exists"] is True
    with pytest.raises(InvalidInput, match="already exists"):
        _restore(env, plan_id, database="evidence_restored")


def test_cli_restore_dry_run_and_typed_confirmation(env: Env, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", files=2, size=5000)
    env.plan(id="files", assets={"paths": [str(src)]}, primary={"restic": str(tmp_path / "repo")})
    s = env.settings
    config = tmp_path / "soc.yaml"
    config.write_text(json.dumps({"data_dir": str(s.data_dir), "index_prefix": s.index_prefix, "es": {"url": s.es_url},
                                  "audit": {"secret_key": s.audit.secret_key.get_secret_value()},
                                  "backup": {"plans_file": str(s.backup.plans_file),
                                             "restic_password_file": str(s.backup.restic_password_file)}}))
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(config), "backup", "run", "files"]).exit_code == 0
    out = tmp_path / "out"
    dry = runner.invoke(cli, ["--config", str(config), "--json", "backup", "restore", "files", "--target-dir",
                              str(out), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output)["changes"]["files"]["files"] == 3 and not out.exists()
    wrong = runner.invoke(cli, ["--config", str(config), "backup", "restore", "files", "--target-dir", str(out)],
                          input="nope\n")
    assert wrong.exit_code == 2 and not out.exists()
    real = runner.invoke(cli, ["--config", str(config), "backup", "restore", "files", "--target-dir", str(out)],
                         input="files\n")
    assert real.exit_code == 0, real.output
    assert len([p for p in out.rglob("*") if p.is_file()]) == 3


def test_api_restore_is_for_sysadmins_with_a_typed_confirmation(env: Env, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.integration.backups.test_api_cli import _login

    src = make_tree(tmp_path / "src", files=2, size=5000)
    env.plan(id="files", assets={"paths": [str(src)]}, primary={"restic": str(tmp_path / "repo")})
    assert env.backup("files")["status"] == "success"
    client = TestClient(create_app(env.settings.model_copy(update={"demo": True}), env.store, bootstrap=True))
    sysadmin, auditor = _login(client, "sysadmin"), _login(client, "auditor")
    out = str(tmp_path / "out")
    url = "/api/v1/backups/plans/files/restore"
    assert client.post(url, json={"target_dir": out}, headers=auditor).status_code == 403
    preview = client.post(url, json={"target_dir": out}, headers=sysadmin)
    assert preview.status_code == 200 and preview.json()["status"] == "dry_run"
    assert preview.json()["changes"]["files"]["files"] == 3
    unconfirmed = client.post(url, json={"target_dir": out, "dry_run": False, "confirm": "nope"}, headers=sysadmin)
    assert unconfirmed.status_code == 422 and "typed as confirmation" in unconfirmed.json()["message"]
    assert not Path(out).exists()
    bad = client.post(url, json={"target_dir": "relative/dir"}, headers=sysadmin)
    assert bad.status_code == 422
    done = client.post(url, json={"target_dir": out, "dry_run": False, "confirm": "files"}, headers=sysadmin)
    assert done.status_code == 200 and done.json()["status"] == "success", done.text
    listed = client.get("/api/v1/backups/restores", headers=auditor).json()["items"]
    assert [r["restore_id"] for r in listed] == [done.json()["restore_id"]]
