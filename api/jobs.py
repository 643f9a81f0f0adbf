"""The API side of ``core.jobs``: the process's runner and one shape for every job answer."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from core.jobs import JobRunner


def get_jobs(request: Request) -> JobRunner:
    runner: JobRunner = request.app.state.jobs
    return runner


def job_answer(view: dict[str, Any], base: str) -> dict[str, Any]:
    """A job's view with where to follow (``poll``) and stop (``cancel``) it; ``base`` is the
    route prefix of the domain's jobs, e.g. ``/api/v1/backups/jobs``."""
    return {**view, "poll": f"{base}/{view['job_id']}", "cancel": f"{base}/{view['job_id']}/cancel"}
