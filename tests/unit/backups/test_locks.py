from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backup_orchestrator.locks import PlanLock, is_stale
from core.errors import Conflict


def test_two_runs_of_one_plan_never_overlap(tmp_path: Path) -> None:
    first = PlanLock(tmp_path, "p")
    with first.held():
        with pytest.raises(Conflict, match="already running"):
            PlanLock(tmp_path, "p").acquire()
        # another plan is independent
        with PlanLock(tmp_path, "other").held():
            pass
    with PlanLock(tmp_path, "p").held():
        pass


def test_lock_of_a_crashed_process_is_cleared(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    dead_pid = int(proc.stdout)
    (tmp_path / "p.lock").write_text(json.dumps({"pid": dead_pid, "host": socket.gethostname(), "heartbeat": time.time(),
                                                 "purpose": "backup", "token": "x"}))
    lock = PlanLock(tmp_path, "p")
    with lock.held():
        assert lock.cleared == f"process {dead_pid} is gone"
        assert json.loads((tmp_path / "p.lock").read_text())["token"] == lock._token
    assert not (tmp_path / "p.lock").exists()


def test_holder_on_another_host_is_stale_only_without_heartbeat(tmp_path: Path) -> None:
    now = time.time()
    fresh = {"pid": 1, "host": "elsewhere", "heartbeat": now - 30}
    assert is_stale(fresh, 600, now) is None
    assert "no heartbeat" in (is_stale({**fresh, "heartbeat": now - 900}, 600, now) or "")
    (tmp_path / "p.lock").write_text(json.dumps(fresh))
    with pytest.raises(Conflict):
        PlanLock(tmp_path, "p", stale_seconds=600).acquire()


def test_heartbeat_is_refreshed_and_a_corrupt_lock_is_cleared(tmp_path: Path) -> None:
    (tmp_path / "p.lock").write_text("{not json")
    lock = PlanLock(tmp_path, "p", heartbeat_seconds=0.05)
    with lock.held():
        first = json.loads((tmp_path / "p.lock").read_text())["heartbeat"]
        time.sleep(0.3)
        assert json.loads((tmp_path / "p.lock").read_text())["heartbeat"] > first
    assert lock.cleared == "unreadable lock file"
