"""Scheduled detection work, each job runnable once from the CLI (``soc rules run-once``).

Wiring for the composition root (``soc up``)::

    from detections.jobs import build_detection_jobs
    for func, seconds in build_detection_jobs(settings, store, auditor):
        scheduler.add_job(func, "interval", seconds=seconds, max_instances=1, coalesce=True)

or simply ``register_detection_jobs(scheduler, settings, store, auditor)`` on an APScheduler
``BackgroundScheduler``. Several processes may run these jobs against one cluster: partitions
of the rule set are leased (see ``detections.runner``), so they share the work and take over a
dead peer's partitions once its lease expires (``detect.lease_seconds``). A second job records
``case.share.expired`` in the audit trail once for each case share grant whose time has passed.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from typing import Any

from core.auditing import Actor, Auditor
from core.es import Store
from core.settings import Settings
from detections.models import CycleResult
from detections.runner import RunnerConfig, run_cycle
from detections.triage.sharing import audit_expired

SHARE_EXPIRY_SECONDS = 60

SYSTEM_ACTOR = Actor.system("detections")


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def detection_cycle(settings: Settings, store: Store, auditor: Auditor | None = None, *, worker_id: str | None = None,
                    force: bool = False) -> CycleResult:
    """Run every due rule this process can lease, once."""
    cfg = RunnerConfig.from_settings(settings, worker_id or worker_identity())
    result = run_cycle(store, cfg, force=force)
    if auditor is not None and (result.alerts_created or result.errors):
        auditor.record(SYSTEM_ACTOR, "detections.cycle", settings.index_prefix,
                       outcome="success" if not result.errors else "partial", detail=result.to_dict())
    return result


def build_detection_jobs(settings: Settings, store: Store, auditor: Auditor | None = None
                         ) -> list[tuple[Callable[[], Any], int]]:
    """``[(callable, interval seconds)]`` for the scheduler; one worker identity per process."""
    worker = worker_identity()

    def tick() -> CycleResult:
        return detection_cycle(settings, store, auditor, worker_id=worker)

    tick.__name__ = "detections_cycle"
    jobs: list[tuple[Callable[[], Any], int]] = [(tick, int(settings.detect.tick_seconds))]
    if auditor is not None:
        def share_expiry() -> int:
            return audit_expired(settings, store, auditor)

        share_expiry.__name__ = "case_shares_expiry"
        jobs.append((share_expiry, SHARE_EXPIRY_SECONDS))
    return jobs


def register_detection_jobs(scheduler: Any, settings: Settings, store: Store, auditor: Auditor | None = None) -> None:
    for func, seconds in build_detection_jobs(settings, store, auditor):
        scheduler.add_job(func, "interval", seconds=seconds, id=func.__name__, max_instances=1, coalesce=True,
                          replace_existing=True)
