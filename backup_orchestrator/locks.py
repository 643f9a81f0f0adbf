"""One run per plan at a time: a lock file holding pid, host, start and a heartbeat.

A lock whose holder is provably dead (same host, pid gone or reused) or whose heartbeat is
older than ``stale_seconds`` (a holder on another host sharing the data directory) is cleared
by renaming it aside first, so two processes racing to clear the same stale lock cannot both
win: only one rename succeeds.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import Conflict


def _proc_start(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    current = _proc_start(pid)
    return start is None or current is None or current == start


def read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"corrupt": True}
    return data if isinstance(data, dict) else {"corrupt": True}


def is_stale(holder: dict[str, Any], stale_seconds: float, now: float | None = None) -> str | None:
    """Why the holder is stale, or None when it must be respected."""
    now = time.time() if now is None else now
    if holder.get("corrupt"):
        return "unreadable lock file"
    if holder.get("host") == socket.gethostname():
        if not _alive(int(holder.get("pid", 0)), holder.get("pid_start")):
            return f"process {holder.get('pid')} is gone"
        return None
    if now - float(holder.get("heartbeat", 0)) > stale_seconds:
        return f"no heartbeat from {holder.get('host')} for {now - float(holder.get('heartbeat', 0)):.0f}s"
    return None


class PlanLock:
    def __init__(self, directory: Path, plan_id: str, *, stale_seconds: float = 600.0, purpose: str = "backup",
                 heartbeat_seconds: float = 15.0) -> None:
        self.path = directory / f"{plan_id}.lock"
        self.plan_id = plan_id
        self.stale_seconds = stale_seconds
        self.purpose = purpose
        self.heartbeat_seconds = heartbeat_seconds
        self.cleared: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._token = ""

    def _payload(self) -> dict[str, Any]:
        pid = os.getpid()
        return {"pid": pid, "pid_start": _proc_start(pid), "host": socket.gethostname(), "purpose": self.purpose,
                "started": time.time(), "heartbeat": time.time(), "token": self._token}

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._token = os.urandom(8).hex()
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:
                holder = read(self.path)
                if holder is None:
                    continue
                reason = is_stale(holder, self.stale_seconds)
                if reason is None:
                    raise Conflict(
                        f"Plan {self.plan_id} is already running ({holder.get('purpose')} by pid {holder.get('pid')} "
                        f"on {holder.get('host')}); wait for it to finish (see `soc backup list`).") from None
                aside = self.path.with_name(f"{self.path.name}.stale-{os.getpid()}-{self._token}")
                with contextlib.suppress(FileNotFoundError):
                    os.rename(self.path, aside)
                    aside.unlink()
                    self.cleared = reason
                continue
            with os.fdopen(fd, "w") as fh:
                json.dump(self._payload(), fh)
            self._thread = threading.Thread(target=self._beat, name=f"lock-{self.plan_id}", daemon=True)
            self._thread.start()
            return
        raise Conflict(f"Could not take the lock of plan {self.plan_id} ({self.path}); retry in a moment.")

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            holder = read(self.path)
            if not holder or holder.get("token") != self._token:
                return
            holder["heartbeat"] = time.time()
            tmp = self.path.with_name(f".{self.path.name}.{self._token}")
            tmp.write_text(json.dumps(holder))
            os.replace(tmp, self.path)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        holder = read(self.path)
        if holder and holder.get("token") == self._token:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    @contextlib.contextmanager
    def held(self) -> Iterator[PlanLock]:
        self.acquire()
        try:
            yield self
        finally:
            self.release()
