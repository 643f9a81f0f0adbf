"""A missing or full repository fails the run with a clear error (and an alert)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.backups.conftest import Env, seed_index
from tests.integration.backups.test_restic_drill import make_tree


def _alerts(env: Env, rule: str) -> int:
    resp = env.store.search(f"{env.settings.index_prefix}-alerts", {"query": {"term": {"rule.id": rule}}})
    return int(resp["hits"]["total"]["value"])


def test_restic_repository_on_a_missing_disk(env: Env, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", files=2, size=1000)
    plan_id = env.plan(id="files", assets={"paths": [str(src)]},
                       primary={"restic": str(tmp_path / "unmounted" / "repo")})
    run = env.backup(plan_id)
    assert run["status"] == "failed"
    assert "does not exist" in run["error"] and "mount" in run["error"]
    assert _alerts(env, "backup.run_failed") == 1
    assert env.auditor.records[-1]["outcome"] == "failure"


def test_repositories_deleted_after_a_first_run_are_not_silently_recreated(env: Env, tmp_path: Path,
                                                                         prefix: str) -> None:
    src = make_tree(tmp_path / "src", files=2, size=1000)
    seed_index(env.store, f"{prefix}-events-m", 10)
    repo = tmp_path / "repo"
    plan_id = env.plan(id="both", assets={"paths": [str(src)], "elasticsearch": {"indices": [f"{prefix}-events-*"]}},
                       primary={"restic": str(repo)})
    first = env.backup(plan_id)
    assert first["status"] == "success", first.get("error")
    shutil.rmtree(first["es"]["location"])
    second = env.backup(plan_id)
    assert second["status"] == "failed"
    assert "is missing" in second["error"]
    env.plan(id="files", assets={"paths": [str(src)]}, primary={"restic": str(repo)})
    assert env.backup("files")["status"] == "success"
    shutil.rmtree(repo)
    third = env.backup("files")
    assert third["status"] == "failed" and "No restic repository" in third["error"]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_restic_repository(env: Env, tmp_path: Path, tiny_disk: Path) -> None:
    src = make_tree(tmp_path / "src", files=4, size=600_000)
    plan_id = env.plan(id="files", assets={"paths": [str(src)]}, primary={"restic": str(tiny_disk / "repo")})
    run = env.backup(plan_id)
    assert run["status"] == "failed"
    assert "full" in run["error"] and "prune" in run["error"], run["error"]
