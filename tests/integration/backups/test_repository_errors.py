"""A missing or full repository fails the run with a clear error (and an alert)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from backup_orchestrator import es_snapshots
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


@pytest.fixture
def tiny_snapshot_disk(env: Env, prefix: str) -> Iterator[str]:
    """A 300 kB filesystem inside the node's path.repo, owned like path.repo."""
    root = es_snapshots.path_repo(env.store)[0]
    mount = root / prefix / "tiny"
    es_snapshots.make_dirs_for_node(env.store, mount)
    st = root.stat()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size=300k,uid={st.st_uid},gid={st.st_gid},mode=0750", "tmpfs",
                    str(mount)], check=True)
    try:
        yield f"{prefix}/tiny/repo"
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_snapshot_repository(env: Env, prefix: str, tiny_snapshot_disk: str) -> None:
    env.store.ensure_index(f"{prefix}-events-big")
    docs = [(f"{prefix}-events-big", f"b{i}", {"message": os.urandom(200).hex(), "n": i}) for i in range(4000)]
    assert env.store.bulk_create(docs, refresh="wait_for").all_stored
    plan_id = env.plan(id="es", assets={"elasticsearch": {"indices": [f"{prefix}-events-*"]}},
                       primary={"elasticsearch": tiny_snapshot_disk})
    run = env.backup(plan_id)
    assert run["status"] == "failed"
    assert "full" in run["error"] and "prune" in run["error"], run["error"]
    assert _alerts(env, "backup.run_failed") == 1
