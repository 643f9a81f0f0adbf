"""Damaged repositories: the drill fails and names the check that caught it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.backups.conftest import Env, seed_index
from tests.integration.backups.test_restic_drill import make_tree


def flip_bytes(path: Path, at: float = 0.5, count: int = 16) -> None:
    data = bytearray(path.read_bytes())
    start = int(len(data) * at)
    for i in range(start, min(start + count, len(data))):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def largest(files: list[Path]) -> Path:
    assert files, "the repository has no data files"
    return max(files, key=lambda p: p.stat().st_size)


def _restic_plan(env: Env, tmp_path: Path) -> tuple[str, Path]:
    data = make_tree(tmp_path / "src", files=6, size=300_000)
    repo = tmp_path / "repo"
    plan_id = env.plan(id="files", assets={"paths": [str(data)]}, primary={"restic": str(repo)},
                       drill={"check_subset": "100%"})
    assert env.backup(plan_id)["status"] == "success"
    return plan_id, repo


def _es_plan(env: Env, prefix: str) -> tuple[str, Path]:
    seed_index(env.store, f"{prefix}-events-x", 2000)
    plan_id = env.plan(id="es", assets={"elasticsearch": {"indices": [f"{prefix}-events-*"]}})
    run = env.backup(plan_id)
    assert run["status"] == "success", run.get("error")
    return plan_id, Path(run["es"]["location"])


@pytest.mark.parametrize("damage", ["flip", "delete"])
def test_damaged_restic_pack_fails_the_drill(env: Env, tmp_path: Path, damage: str) -> None:
    plan_id, repo = _restic_plan(env, tmp_path)
    pack = largest([p for p in (repo / "data").rglob("*") if p.is_file()])
    if damage == "flip":
        flip_bytes(pack)
    else:
        pack.unlink()
    drill = env.drill(plan_id)
    assert drill["status"] == "failed"
    assert drill["failed_check"] == "restic_check"
    check = next(c for c in drill["checks"] if c["name"] == "restic_check")
    assert "restic check found problems" in check["detail"]
    statuses = {c["name"]: c["status"] for c in drill["checks"]}
    assert statuses["restic_restore"] == statuses["files_digests"] == "skipped"
    alerts = env.store.search(f"{env.settings.index_prefix}-alerts", {"query": {"term": {"rule.id": "backup.drill_failed"}}})
    assert alerts["hits"]["total"]["value"] == 1


@pytest.mark.parametrize("damage", ["flip", "delete"])
def test_damaged_snapshot_blob_fails_the_drill(env: Env, prefix: str, damage: str) -> None:
    plan_id, location = _es_plan(env, prefix)
    blob = largest([p for p in (location / "indices").rglob("__*") if p.is_file()])
    if damage == "flip":
        flip_bytes(blob)
    else:
        blob.unlink()
    drill = env.drill(plan_id)
    assert drill["status"] == "failed"
    assert drill["failed_check"] == "es_restore", drill["checks"]
    assert env.store.list_indices(f"drill-{drill['drill_id']}-*") == []
    statuses = {c["name"]: c["status"] for c in drill["checks"]}
    assert statuses["es_digests"] == "skipped" and statuses["cleanup"] == "passed"
