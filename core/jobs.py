"""One runner for long operations started through the API: compliance runs, backups, drills.

A job has a ``kind`` (``compliance.run``, ``backup``, ``drill``) and a ``key`` (what it works
on: a plan id, a catalog and its targets). The runner refuses (``Conflict`` → 409) a job whose
kind and key are already running, and any job once ``max_running`` jobs (or a kind's own limit)
are running; it never evicts a running job to make room. Finished jobs are kept, newest last,
up to ``keep``; their result stays readable until they fall out of that history.

The work gets a ``JobHandle``: ``progress(stage, fraction, message)`` for the status routes,
``cancelled`` to poll between steps (the runner cannot stop a thread, so work that never polls
runs to its end) and ``check_cancelled()`` that raises ``JobCancelled``.

The work runs under the department scope of whoever submitted it (``core.scope``), so a
background run reads and writes no more than the request that started it could.

One runner per API process (``app.state.jobs``): jobs live in memory; what they produce (runs,
drills) is stored by the work itself.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core import scope as scopes
from core.errors import Conflict, NotFound, SocError
from core.timeutil import iso, utcnow

RUNNING, FINISHED, FAILED, CANCELLED = "running", "finished", "failed", "cancelled"


class JobCancelled(SocError):
    """Raised by work that noticed its cancellation; the job ends as ``cancelled``."""

    http_status = 409
    code = "cancelled"


@dataclass
class _Job:
    job_id: str
    kind: str
    key: str
    owner: str | None
    started: str
    status: str = RUNNING
    stage: str = "queued"
    fraction: float = 0.0
    message: str = ""
    messages: deque[str] = field(default_factory=lambda: deque(maxlen=50))
    ended: str | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    def view(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "kind": self.kind, "key": self.key, "owner": self.owner,
                "status": self.status, "stage": self.stage, "fraction": self.fraction, "message": self.message,
                "messages": list(self.messages), "started": self.started, "ended": self.ended,
                "result": dict(self.result) if self.result is not None else None, "error": self.error,
                "cancel_requested": self.cancel.is_set()}


class JobHandle:
    """What the work sees of its job."""

    def __init__(self, job: _Job, lock: threading.Lock) -> None:
        self._job = job
        self._lock = lock

    @property
    def job_id(self) -> str:
        return self._job.job_id

    @property
    def cancelled(self) -> bool:
        return self._job.cancel.is_set()

    def check_cancelled(self) -> None:
        if self.cancelled:
            raise JobCancelled(f"Job {self._job.job_id} was cancelled.")

    def progress(self, stage: str, fraction: float | None = None, message: str = "") -> None:
        with self._lock:
            job = self._job
            job.stage = stage
            if fraction is not None:
                job.fraction = max(0.0, min(1.0, float(fraction)))
            job.message = message
            if message:
                job.messages.append(message)

    def say(self, message: str) -> None:
        """A progress message that keeps the current stage."""
        self.progress(self._job.stage, None, message)


Work = Callable[[JobHandle], Mapping[str, Any] | None]


class JobRunner:
    def __init__(self, *, max_running: int = 4, keep: int = 200, per_kind: Mapping[str, int] | None = None) -> None:
        if max_running < 1 or keep < max_running:
            raise ValueError("max_running must be ≥ 1 and keep ≥ max_running")
        self._jobs: OrderedDict[str, _Job] = OrderedDict()
        self._lock = threading.Lock()
        self._max_running = max_running
        self._keep = keep
        self._per_kind = dict(per_kind or {})

    def submit(self, kind: str, key: str, work: Work, *, owner: str | None = None) -> dict[str, Any]:
        """Start ``work`` in a thread; returns the job's view. ``Conflict`` when busy."""
        job = _Job(job_id=uuid.uuid4().hex[:16], kind=kind, key=key, owner=owner, started=iso(utcnow()))
        with self._lock:
            running = [j for j in self._jobs.values() if j.status == RUNNING]
            same = next((j for j in running if j.kind == kind and j.key == key), None)
            if same is not None:
                raise Conflict(f"A {kind} job for {key} is already running (job {same.job_id}); follow it or "
                               "cancel it first.", detail={"job_id": same.job_id})
            limit = self._per_kind.get(kind)
            if limit is not None and sum(1 for j in running if j.kind == kind) >= limit:
                raise Conflict(f"{limit} {kind} jobs are already running; wait for one to finish or cancel one.",
                               detail={"running": [j.job_id for j in running if j.kind == kind]})
            if len(running) >= self._max_running:
                raise Conflict(f"{len(running)} long operations are already running; wait for one to finish or "
                               "cancel one.", detail={"running": [j.job_id for j in running]})
            self._jobs[job.job_id] = job
            self._trim()
            view = job.view()
        handle = JobHandle(job, self._lock)
        submitter = scopes.current()

        def target() -> None:
            try:
                with scopes.acting(submitter):
                    result = work(handle)
                # Work that stops cleanly on cancellation (and records it) says so in its result.
                status = CANCELLED if result is not None and result.get("status") == CANCELLED else FINISHED
                self._end(job, status, result=dict(result) if result is not None else None)
            except JobCancelled as exc:
                self._end(job, CANCELLED, error=exc.message)
            except SocError as exc:
                self._end(job, FAILED, error=exc.message)
            except Exception as exc:  # noqa: BLE001 - a background job must report, never vanish
                self._end(job, FAILED, error=f"unexpected error: {exc!r}")

        threading.Thread(target=target, name=f"job-{kind}-{job.job_id}", daemon=True).start()
        return view

    def _trim(self) -> None:
        # Oldest finished jobs leave first; running ones are never evicted (their number is
        # bounded by max_running ≤ keep).
        excess = len(self._jobs) - self._keep
        for job_id in [j.job_id for j in self._jobs.values() if j.status != RUNNING][:max(0, excess)]:
            del self._jobs[job_id]

    def _end(self, job: _Job, status: str, *, result: dict[str, Any] | None = None, error: str | None = None) -> None:
        with self._lock:
            job.status = status
            job.ended = iso(utcnow())
            job.result = result
            job.error = error
            if status == FINISHED:
                job.fraction = 1.0
                job.stage = "done"
            self._trim()

    def get(self, job_id: str, *, kinds: tuple[str, ...] | None = None) -> dict[str, Any]:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or (kinds is not None and job.kind not in kinds):
                raise NotFound(f"No job {job_id!r} in this API process (jobs are kept in memory by the process "
                               "that started them; what they produced is in the run and drill lists).")
            return job.view()

    def list(self, *, kinds: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        """Newest first."""
        with self._lock:
            return [j.view() for j in reversed(self._jobs.values()) if kinds is None or j.kind in kinds]

    def cancel(self, job_id: str, *, kinds: tuple[str, ...] | None = None) -> dict[str, Any]:
        """Ask a running job to stop; it ends as ``cancelled`` at its next check. A job that has
        already ended is returned unchanged."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or (kinds is not None and job.kind not in kinds):
                raise NotFound(f"No job {job_id!r} in this API process.")
            if job.status == RUNNING:
                job.cancel.set()
            return job.view()

    def wait(self, job_id: str, timeout: float) -> dict[str, Any]:
        """Block until the job ends (or ``timeout`` seconds); its view either way."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.get(job_id)
            if view["status"] != RUNNING or time.monotonic() >= deadline:
                return view
            time.sleep(0.05)
