from __future__ import annotations

import os
from pathlib import Path

from backup_orchestrator import service
from tests.integration.backups.conftest import SYSADMIN, Env


def make_tree(root: Path, files: int = 12, size: int = 200_000) -> Path:
    for i in range(files):
        sub = root / f"dir{i % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"file{i}.bin").write_bytes(os.urandom(size))
    (root / "notes.txt").write_text("清朗 backup drill\n", encoding="utf-8")
    return root


def test_restic_backup_offsite_copy_and_drills(env: Env, tmp_path: Path) -> None:
    data = make_tree(tmp_path / "src")
    plan_id = env.plan(id="files", assets={"paths": [str(data)]},
                       primary={"restic": str(tmp_path / "repo-primary")},
                       offsite={"restic": str(tmp_path / "repo-offsite")},
                       objectives={"rpo": "1h", "rto": "10m"}, drill={"check_subset": "100%"})
    run = env.backup(plan_id)
    assert run["status"] == "success", run.get("error")
    assert run["manifest"]["files"]["count"] == 13
    assert run["restic"]["files_new"] == 13 and run["restic"]["data_added"] > 0
    assert run["offsite"]["status"] == "success", run["offsite"]
    assert run["offsite"]["restic_lag_seconds"] == 0.0

    # the password never reaches restic's command line
    assert "correct horse" not in str(run)

    primary = env.drill(plan_id)
    assert primary["status"] == "passed", primary["checks"]
    assert {c["name"] for c in primary["checks"]} >= {"restic_check", "restic_restore", "files_count", "files_digests"}
    offsite = env.drill(plan_id, source="offsite")
    assert offsite["status"] == "passed", offsite["checks"]

    # a second run adds only what changed; the offsite lag is measured against the primary
    (data / "dir0" / "file0.bin").write_bytes(os.urandom(1000))
    second = env.backup(plan_id)
    assert second["restic"]["files_changed"] == 1 and second["restic"]["files_unmodified"] == 12
    status = service.offsite_status(env.ctx(), SYSADMIN, plan_id)
    assert status["restic_lag_seconds"] == 0.0
