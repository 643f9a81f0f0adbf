"""Scheduled compliance runs (each runnable once from the CLI: ``soc compliance run-scheduled``)."""

from __future__ import annotations

from typing import Any

from compliance.service import run_assessment
from compliance.systems import SystemIndex
from core.auditing import Actor, Auditor
from core.errors import SocError
from core.es import Store
from core.settings import Settings


def scheduled_run(store: Store, settings: Settings, auditor: Auditor) -> dict[str, Any]:
    """A full run of the configured level on the configured targets, as the scheduler."""
    return run_assessment(store, settings, auditor, Actor.system("compliance"), level=settings.compliance.level,
                          targets=list(settings.compliance.targets))


def scheduled_system_runs(store: Store, settings: Settings, auditor: Auditor) -> list[dict[str, Any]]:
    """One run of every registered graded system (its level, its hosts), as the scheduler, so the
    district roll-up stays current. A system that fails is reported and the others still run."""
    actor = Actor.system("compliance")
    out: list[dict[str, Any]] = []
    for system in SystemIndex(store, settings).all():
        try:
            run = run_assessment(store, settings, auditor, actor, system_id=system["id"])
            out.append({"system": system["id"], "run_id": run["id"], "status": run["status"],
                        "overall": run.get("overall"), "band": run.get("band"), "errors": run.get("errors") or []})
        except SocError as exc:
            out.append({"system": system["id"], "run_id": None, "status": "failed", "errors": [exc.message]})
    return out


def schedule(scheduler: Any, store: Store, settings: Settings, auditor: Auditor) -> bool:
    """Register the runs on an APScheduler scheduler when ``compliance.schedule_cron`` is set:
    the configured targets' run, then every graded system's."""
    if not settings.compliance.schedule_cron:
        return False
    from apscheduler.triggers.cron import CronTrigger

    scheduler.add_job(scheduled_run, CronTrigger.from_crontab(settings.compliance.schedule_cron, timezone="UTC"),
                      args=[store, settings, auditor], id="compliance.scheduled_run", replace_existing=True,
                      max_instances=1, coalesce=True)
    scheduler.add_job(scheduled_system_runs, CronTrigger.from_crontab(settings.compliance.schedule_cron, timezone="UTC"),
                      args=[store, settings, auditor], id="compliance.scheduled_system_runs", replace_existing=True,
                      max_instances=1, coalesce=True)
    return True
