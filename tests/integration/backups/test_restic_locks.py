"""A restic process that crashed mid-backup leaves a lock; the next run clears it, and only it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from backup_orchestrator import service
from tests.integration.backups.conftest import SYSADMIN, Env
from tests.integration.backups.test_restic_drill import make_tree


def test_stale_restic_lock_of_a_killed_process_is_cleared(env: Env, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", files=2, size=10_000)
    repo = tmp_path / "repo"
    plan_id = env.plan(id="files", assets={"paths": [str(src)]}, primary={"restic": str(repo)},
                       retention={"keep_last": 1})
    assert env.backup(plan_id)["status"] == "success"

    big = tmp_path / "big"
    big.mkdir()
    (big / "blob").write_bytes(os.urandom(64 * 1024 * 1024))
    restic_env = {**os.environ, "RESTIC_REPOSITORY": str(repo),
                  "RESTIC_PASSWORD_FILE": str(env.settings.backup.restic_password_file)}
    proc = subprocess.Popen(["restic", "backup", "--limit-upload", "64", str(big)], env=restic_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not any((repo / "locks").iterdir()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any((repo / "locks").iterdir()), "restic never took its lock"
        # The lock file appears before restic has finished writing it; a kill in that instant
        # leaves an unreadable file rather than the stale lock this test is about.
        time.sleep(1.5)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    left = [p.name for p in (repo / "locks").iterdir()]
    assert len(left) == 1

    run = env.backup(plan_id)
    assert run["status"] == "success", run.get("error")
    # Our own check found the dead holder's lock (listing runs with --no-lock, so restic did not
    # remove it first), cleared it and reported exactly it.
    assert run["restic"]["stale_locks_cleared"] == left
    assert list((repo / "locks").iterdir()) == []
    # the exclusive prune now works
    pruned = service.prune(env.ctx(), SYSADMIN, env.auditor, plan_id, dry_run=False)
    assert pruned["errors"] == [] and len(pruned["remove"]) == 1






