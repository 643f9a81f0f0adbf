"""Progress of backups and drills started through the API, readable while they run.

One ``JobBoard`` per API process (built by the caller, kept on ``app.state``); bounded so a
long-lived server does not accumulate finished jobs forever.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from core.errors import SocError
from core.timeutil import iso, utcnow


class JobBoard:
    def __init__(self, keep: int = 200) -> None:
        self._jobs: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._keep = keep

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return dict(job) if job else None

    def _set(self, job_id: str, **fields: Any) -> None:
        with self._lock:
            if job_id in self._jobs:
                self._jobs[job_id].update(fields)

    def start(self, kind: str, plan_id: str, work: Callable[[Callable[[str, float | None, str], None]], dict[str, Any]]
              ) -> dict[str, Any]:
        job_id = uuid.uuid4().hex[:16]
        job = {"job_id": job_id, "kind": kind, "plan_id": plan_id, "status": "running", "stage": "queued",
               "fraction": 0.0, "message": "", "started": iso(utcnow()), "result": None, "error": None}
        with self._lock:
            self._jobs[job_id] = job
            while len(self._jobs) > self._keep:
                self._jobs.popitem(last=False)

        def progress(stage: str, fraction: float | None, message: str) -> None:
            self._set(job_id, stage=stage, message=message, **({"fraction": fraction} if fraction is not None else {}))

        def target() -> None:
            try:
                doc = work(progress)
                self._set(job_id, status="finished", fraction=1.0, ended=iso(utcnow()),
                          result={k: doc.get(k) for k in ("run_id", "drill_id", "status", "failed_check", "error")})
            except SocError as exc:
                self._set(job_id, status="error", error=exc.message, ended=iso(utcnow()))
            except Exception as exc:  # noqa: BLE001 - a background job must report, never vanish
                self._set(job_id, status="error", error=f"unexpected error: {exc!r}", ended=iso(utcnow()))

        threading.Thread(target=target, name=f"{kind}-{plan_id}-{job_id}", daemon=True).start()
        return dict(job)
