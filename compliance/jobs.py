"""Scheduled compliance runs (each runnable once from the CLI: ``soc compliance run-scheduled``)."""

from __future__ import annotations

from typing import Any

from compliance.service import run_assessment
from core.auditing import Actor, Auditor
from core.es import Store
from core.settings import Settings


def scheduled_run(store: Store, settings: Settings, auditor: Auditor) -> dict[str, Any]:
    """A full run of the configured level on the configured targets, as the scheduler."""
    return run_assessment(store, settings, auditor, Actor.system("compliance"), level=settings.compliance.level,
                          targets=list(settings.compliance.targets))


def schedule(scheduler: Any, store: Store, settings: Settings, auditor: Auditor) -> bool:
    """Register the run on an APScheduler scheduler when ``compliance.schedule_cron`` is set."""
    if not settings.compliance.schedule_cron:
        return False
    from apscheduler.triggers.cron import CronTrigger

    scheduler.add_job(scheduled_run, CronTrigger.from_crontab(settings.compliance.schedule_cron, timezone="UTC"),
                      args=[store, settings, auditor], id="compliance.scheduled_run", replace_existing=True,
                      max_instances=1, coalesce=True)
    return True
